"""The deterministic cluster simulator: Raft nodes, a faulty network and disks, clients, one seed.

Everything random (the scenario, message delays and losses, partitions, crashes, the nodes' election
timeouts, the clients' operations) comes from ``random.Random`` instances derived from the one seed,
and nothing iterates in hash order, so a seed replays exactly in any process.

Time is counted in steps; each node ticks every ``tick_every_steps`` steps at its own phase. A run has
a chaos phase (faults as the scenario says) and then a healing phase (every node up, no partitions, no
loss): the cluster must converge, and then every acknowledged write must be on every live member,
all members must hold the same state, and the client history must be linearizable. The safety
properties are checked on every step of both phases.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from cluster.raft import (
    ConfChange,
    ConfChangePending,
    ConfChangeType,
    Config,
    InvalidConfChange,
    MemoryStorage,
    NotLeader,
    ProposalDropped,
    Role,
)
from tests.sim.invariants import SafetyChecker
from tests.sim.linearizability import check_history
from tests.sim.network import Faults, SimNetwork
from tests.sim.node import CrashPoint, SimNode
from tests.sim.workload import Workload


class LivenessFailure(AssertionError):
    """The healed cluster did not converge in time."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """What one seeded run does; ``draw`` picks it from the seed."""

    seed: int
    voters: int = 3
    spares: int = 0  # servers outside the first membership, for membership changes
    faults: Faults = field(default_factory=Faults)
    chaos_steps: int = 1200
    heal_steps: int = 4000
    tick_every_steps: int = 4
    crash_every_steps: int = 0  # mean steps between node crashes (0: none)
    ready_crash_probability: float = 0.0  # per Ready: crash between write and sync, or after sending
    partition_every_steps: int = 0
    membership: bool = False
    transfers: bool = False
    operate_every_steps: int = 60  # mean steps between operator actions (membership, transfers)
    snapshot_every: int = 10
    keep_entries: int = 2
    pre_vote: bool = True
    check_quorum: bool = True
    lease_reads: bool = False
    max_entries_per_msg: int = 8
    max_inflight_msgs: int = 4
    clients: int = 3
    ops_per_client: int = 10
    think_steps: int = 80
    load_every_steps: int = 15

    @classmethod
    def draw(cls, seed: int) -> Scenario:
        rng = random.Random(f"scenario/{seed}")
        membership = rng.random() < 0.3
        check_quorum = rng.random() < 0.8
        return cls(
            seed=seed,
            voters=rng.choice((3, 3, 5)),
            spares=rng.choice((1, 2)) if membership else 0,
            faults=Faults(
                drop=rng.choice((0.0, 0.01, 0.05, 0.15)),
                duplicate=rng.choice((0.0, 0.02, 0.05)),
                min_delay_steps=1,
                max_delay_steps=rng.choice((2, 4, 8)),
            ),
            crash_every_steps=rng.choice((0, 150, 400)),
            ready_crash_probability=rng.choice((0.0, 0.002, 0.01)),
            partition_every_steps=rng.choice((0, 100, 300)),
            membership=membership,
            transfers=rng.random() < 0.3,
            snapshot_every=rng.choice((4, 10, 30)),
            keep_entries=rng.choice((0, 2, 8)),
            pre_vote=rng.random() < 0.8,
            check_quorum=check_quorum,
            lease_reads=check_quorum and rng.random() < 0.3,
            max_entries_per_msg=rng.choice((1, 4, 64)),
            max_inflight_msgs=rng.choice((1, 4, 16)),
        )


class Simulator:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = sc = scenario
        self.rng = random.Random(sc.seed)
        self.now = 0
        self._seq = 0
        self.checker = SafetyChecker()
        self.net = SimNetwork(self._fork(), sc.faults)
        self.ids = [f"n{i + 1}" for i in range(sc.voters + sc.spares)]
        founders = tuple(self.ids[: sc.voters])
        config = Config(id="_", election_ticks=10, heartbeat_ticks=1, pre_vote=sc.pre_vote,
                        check_quorum=sc.check_quorum, lease_reads=sc.lease_reads,
                        max_entries_per_msg=sc.max_entries_per_msg, max_inflight_msgs=sc.max_inflight_msgs)
        self.nodes: dict[str, SimNode] = {}
        for node_id in self.ids:
            durable = MemoryStorage.bootstrap(founders) if node_id in founders else MemoryStorage()
            node = SimNode(node_id, durable, replace(config, id=node_id), self.checker,
                           snapshot_every=sc.snapshot_every, keep_entries=sc.keep_entries)
            node.start(self._fork())
            self.nodes[node_id] = node
        self.ever_members = set(founders)
        self.phase = {node_id: self.rng.randrange(sc.tick_every_steps) for node_id in self.ids}
        self.restart_at: dict[str, int] = {}
        self.heal_at = 0
        self.workload = Workload(self._fork(), clients=sc.clients, ops_per_client=sc.ops_per_client,
                                 load_every_steps=sc.load_every_steps, timeout_steps=120,
                                 think_steps=sc.think_steps)
        self.stats: dict[str, int] = {"crashes": 0, "ready_crashes": 0, "partitions": 0, "conf_changes": 0,
                                      "transfers": 0}

    def _fork(self) -> random.Random:
        return random.Random(self.rng.getrandbits(64))

    def next_seq(self) -> int:
        """A strictly increasing event counter: orders calls and returns in client histories."""
        self._seq += 1
        return self._seq

    # ---- queries -------------------------------------------------------------------------------

    def up_nodes(self) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.up]

    def random_up_node(self) -> SimNode | None:
        up = self.up_nodes()
        return self.rng.choice(up) if up else None

    def leader(self) -> SimNode | None:
        """The up node that leads the highest term, if any."""
        best: SimNode | None = None
        for node in self.nodes.values():
            if node.up and node.node.role == Role.LEADER and (best is None or node.node.term > best.node.term):
                best = node
        return best

    # ---- running -------------------------------------------------------------------------------

    def run(self) -> None:
        for _ in range(self.scenario.chaos_steps):
            self.step(chaos=True)
        self.heal()
        self.converge()
        self.check_final()

    def step(self, *, chaos: bool) -> None:
        self.now += 1
        now = self.now
        if chaos:
            self._inject_faults()
        for msg in self.net.due(now):
            target = self.nodes.get(msg.to)
            if target is not None and target.up:
                target.node.step(msg)
        every = self.scenario.tick_every_steps
        for node in self.nodes.values():
            if node.up and (now + self.phase[node.id]) % every == 0:
                node.node.tick()
        if chaos:
            self._operate()
        self.workload.step(self)
        for node in self.nodes.values():
            if node.up and node.node.has_ready():
                self._handle_ready(node, chaos=chaos)
        self.workload.serve_reads(self)
        self.checker.check_leaders({n.id: n.node for n in self.nodes.values() if n.up})

    def _handle_ready(self, node: SimNode, *, chaos: bool) -> None:
        crash_point = None
        p = self.scenario.ready_crash_probability
        if chaos and p and self.rng.random() < p:
            crash_point = self.rng.choice((CrashPoint.BEFORE_SYNC, CrashPoint.AFTER_SEND))
        out = node.handle_ready(crash_point)
        for msg in out.messages:
            self.net.send(self.now, msg)
        if out.crashed:
            self.stats["ready_crashes"] += 1
            self.restart_at[node.id] = self.now + self.rng.randint(10, 200)
            return
        self.workload.on_applied(self, node, out.applied)
        self.workload.on_read_states(node, out.read_states)
        self._retire(out.removed)

    def _retire(self, removed: list[str]) -> None:
        """An operator shuts a server down for good once its removal is committed (applied anywhere)."""
        for node_id in removed:
            victim = self.nodes[node_id]
            if not victim.retired:
                victim.retired = True
                if victim.up:
                    victim.crash()
                self.restart_at.pop(node_id, None)

    # ---- faults and operators ------------------------------------------------------------------

    def _inject_faults(self) -> None:
        sc, rng, now = self.scenario, self.rng, self.now
        if sc.crash_every_steps and rng.random() < 1 / sc.crash_every_steps:
            victim = self.random_up_node()
            if victim is not None:
                victim.crash()
                self.stats["crashes"] += 1
                self.restart_at[victim.id] = now + rng.randint(10, 300)
        for node_id, when in sorted(self.restart_at.items()):
            if when <= now:
                del self.restart_at[node_id]
                node = self.nodes[node_id]
                if not node.up and not node.retired:
                    node.start(self._fork())
        if sc.partition_every_steps and rng.random() < 1 / sc.partition_every_steps:
            self._partition()
            self.heal_at = now + rng.randint(50, 400)
        elif self.heal_at and now >= self.heal_at:
            self.net.heal()
            self.heal_at = 0

    def _partition(self) -> None:
        rng = self.rng
        ids = list(self.ids)
        self.stats["partitions"] += 1
        kind = rng.choice(("isolate-leader", "isolate", "split", "one-way"))
        leader = self.leader()
        if kind == "isolate-leader" and leader is not None:
            self.net.isolate(leader.id, ids)  # a deposed leader that still believes it leads
        elif kind in ("isolate", "isolate-leader"):
            self.net.isolate(rng.choice(ids), ids)
        elif kind == "split":
            rng.shuffle(ids)
            cut = rng.randint(1, len(ids) - 1)
            self.net.partition([ids[:cut], ids[cut:]])
        else:
            for _ in range(rng.randint(1, len(ids))):
                a, b = rng.sample(ids, 2)
                self.net.cut.add((a, b))

    def _operate(self) -> None:
        """Operators: membership changes and leadership transfers, now and then, through the leader."""
        sc, rng = self.scenario, self.rng
        if not (sc.membership or sc.transfers) or rng.random() > 1 / sc.operate_every_steps:
            return
        leader = self.leader()
        if leader is None:
            return
        if sc.membership and (not sc.transfers or rng.random() < 0.6):
            change = self._next_conf_change(leader)
            if change is None:
                return
            try:
                leader.node.propose_conf_change(change)
            except (NotLeader, ProposalDropped, ConfChangePending, InvalidConfChange):
                return
            self.stats["conf_changes"] += 1
            self.ever_members.add(change.node_id)
            return
        voters = [v for v in leader.conf.voters if v != leader.id]
        if voters:
            try:
                leader.node.transfer_leadership(rng.choice(voters))
            except NotLeader:
                return
            self.stats["transfers"] += 1

    def _next_conf_change(self, leader: SimNode) -> ConfChange | None:
        rng = self.rng
        conf = leader.node.status().conf
        members = set(conf.voters) | set(conf.learners)
        fresh = [n for n in self.ids if n not in self.ever_members]
        if conf.learners and rng.random() < 0.7:
            return ConfChange(ConfChangeType.PROMOTE_LEARNER, conf.learners[0])
        if fresh and rng.random() < 0.6:
            kind = ConfChangeType.ADD_LEARNER if rng.random() < 0.7 else ConfChangeType.ADD_VOTER
            return ConfChange(kind, fresh[0])
        if len(conf.voters) > 3 or (len(members) > len(conf.voters) and rng.random() < 0.3):
            victim = rng.choice(sorted(members))
            if len(conf.voters) <= 3 and victim in conf.voters:
                return None
            return ConfChange(ConfChangeType.REMOVE_NODE, victim)
        return None

    # ---- healing and the final checks ----------------------------------------------------------

    def heal(self) -> None:
        """End of chaos: every server up, no partitions, no loss (delays and reordering stay)."""
        self.net.heal()
        self.heal_at = 0
        self.net.faults = replace(self.net.faults, drop=0.0, duplicate=0.0)
        for node_id in sorted(self.restart_at):
            node = self.nodes[node_id]
            if not node.up and not node.retired:
                node.start(self._fork())
        self.restart_at.clear()
        for node in self.nodes.values():
            if not node.up and not node.retired:
                node.start(self._fork())
        self.workload.stopped = True

    def converge(self) -> None:
        barrier_sent = False
        for _ in range(self.scenario.heal_steps):
            self.step(chaos=False)
            leader = self.leader()
            if leader is None:
                continue
            if not barrier_sent or (not self.workload.acked_barrier and self.now % 200 == 0):
                barrier_sent = self.workload.propose_barrier(self, leader)
            if self.workload.acked_barrier and self._converged(leader):
                return
        raise LivenessFailure(f"no convergence {self.scenario.heal_steps} steps after healing: {self.describe()}")

    def _converged(self, leader: SimNode) -> bool:
        log = leader.node.raft.log
        if log.committed != log.last_index():
            return False
        for member in (*leader.conf.voters, *leader.conf.learners):
            node = self.nodes[member]
            if not node.up or node.applied_index != log.committed:
                return False
        return True

    def live_members(self) -> list[SimNode]:
        leader = self.leader()
        assert leader is not None
        return [self.nodes[m] for m in sorted({*leader.conf.voters, *leader.conf.learners})]

    def check_final(self) -> None:
        members = self.live_members()
        reference = members[0]
        for node in members:
            missing = self.workload.acked - node.kv.applied_ops
            assert not missing, f"{node.id} lacks acknowledged writes {sorted(missing)[:10]}"
            assert node.kv.data == reference.kv.data, f"{node.id} and {reference.id} hold different states"
        bad_keys = check_history(self.workload.history)
        assert not bad_keys, f"history not linearizable for keys {bad_keys}: {self.workload.history}"

    def describe(self) -> str:
        roles = {n.id: (n.node.role.name if n.up else "down") for n in self.nodes.values()}
        return f"now={self.now} roles={roles} stats={self.stats}"
