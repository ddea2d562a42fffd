"""Clients of the simulated cluster: their operations, what they heard back, and what was acknowledged.

Each client runs one operation at a time against a node of its choice: puts and compare-and-sets go
through ``propose``, gets through ``read_index`` (a follower forwards it to the leader) and are
served from the node's state machine once it has applied the read index. A node that refuses
(``NotLeader``, ``ProposalDropped``) had no effect, so the client tries again elsewhere. An operation a
write a node accepted but never answered (a crash, a timeout) stays in the history without a return:
it may have happened or not, and the linearizability checker treats it so. A get that goes unanswered
had no effect, so the client asks again (another node, a new read index); the history records a get
once, when it is answered, with the time of its first call.

A background loader adds blind writes (never read) to grow the log, so nodes snapshot and compact.
Every write a client or the loader heard back about is *acknowledged*: after healing, it must be on
every live node.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cluster.raft import NotLeader, ProposalDropped, ReadState
from tests.sim.kv import Command, Op, encode_command
from tests.sim.linearizability import Operation

if TYPE_CHECKING:
    from tests.sim.node import SimNode
    from tests.sim.simulator import Simulator

KEYS = ("x", "y")


@dataclass(slots=True)
class _Waiting:
    """An operation a node accepted: a write (``position`` in the history; None for the loader's) or a
    get (``read``, recorded in the history once answered)."""

    op_id: int
    node_id: str
    incarnation: int
    deadline: int
    position: int | None = None
    read: Operation | None = None
    read_index: int | None = None  # a get whose read index was confirmed, waiting for the apply


@dataclass(slots=True)
class _Client:
    name: str
    ops_left: int
    next_at: int = 0
    current: Operation | None = None  # called, not yet accepted by a node
    op_id: int = 0
    target: str = ""
    waiting: bool = False


class Workload:
    def __init__(self, rng: random.Random, *, clients: int, ops_per_client: int, load_every_steps: int,
                 timeout_steps: int, read_timeout_steps: int = 60, think_steps: int = 40) -> None:
        self.rng = rng
        self.clients = [_Client(f"c{i + 1}", ops_per_client) for i in range(clients)]
        self.load_every_steps = load_every_steps
        self.timeout_steps = timeout_steps
        self.read_timeout_steps = read_timeout_steps
        self.think_steps = think_steps  # a client waits up to this long between two operations
        self.history: list[Operation] = []
        self.acked: set[int] = set()
        self._writes: dict[int, _Waiting] = {}
        self._reads: dict[bytes, _Waiting] = {}
        self._next_op_id = 1
        self._attempt = 0
        self._barrier = 0
        self.stopped = False

    def _new_op_id(self) -> int:
        op_id = self._next_op_id
        self._next_op_id += 1
        return op_id

    # ---- issuing -------------------------------------------------------------------------------

    def step(self, sim: Simulator) -> None:
        now = sim.now
        for client in self.clients:
            if client.waiting:
                continue
            if client.current is None:
                if self.stopped or not client.ops_left or now < client.next_at:
                    continue
                client.current = self._invent(client, sim)
                client.op_id = self._new_op_id()
                client.ops_left -= 1
            self._try_issue(client, sim)
        self._expire(sim)
        if not self.stopped and self.load_every_steps and now % self.load_every_steps == 0:
            self.propose_load(sim)

    def _invent(self, client: _Client, sim: Simulator) -> Operation:
        rng = self.rng
        key = rng.choice(KEYS)
        roll = rng.random()
        kind = Op.GET if roll < 0.4 else Op.PUT if roll < 0.75 else Op.CAS
        value = f"{client.name}.{client.ops_left}"
        expected = None
        if kind == Op.CAS:
            seen = [op.value for op in self.history if op.key == key and op.op != Op.GET]
            expected = rng.choice(seen) if seen and rng.random() < 0.8 else None
        return Operation(client.name, kind, key, value=value if kind != Op.GET else "", expected=expected,
                         called=sim.next_seq())

    def _try_issue(self, client: _Client, sim: Simulator) -> None:
        op = client.current
        assert op is not None
        node = sim.nodes.get(client.target)
        if node is None or not node.up or self.rng.random() < 0.2:
            node = sim.random_up_node()
            if node is None:
                return
        try:
            if op.op == Op.GET:
                self._attempt += 1
                context = f"{client.op_id}/{self._attempt}".encode()
                node.node.read_index(context)
                self._reads[context] = _Waiting(client.op_id, node.id, node.incarnation,
                                                sim.now + self.read_timeout_steps, read=op)
            else:
                command = Command(op.op, client.op_id, op.key, op.value, op.expected)
                node.node.propose(encode_command(command))
                self._writes[client.op_id] = _Waiting(client.op_id, node.id, node.incarnation,
                                                      sim.now + self.timeout_steps, position=len(self.history))
        except NotLeader as exc:
            client.target = exc.leader_id
            return
        except ProposalDropped:
            return
        if op.op != Op.GET:
            self.history.append(op)
        client.current = None
        client.waiting = True
        client.target = node.id

    def propose_load(self, sim: Simulator) -> None:
        """A blind write through the current leader (if any); acknowledged when that leader applies it."""
        leader = sim.leader()
        if leader is None:
            return
        op_id = self._new_op_id()
        try:
            leader.node.propose(encode_command(Command(Op.PUT, op_id, "load", str(op_id))))
        except (NotLeader, ProposalDropped):
            return
        self._writes[op_id] = _Waiting(op_id, leader.id, leader.incarnation, sim.now + self.timeout_steps)

    def propose_barrier(self, sim: Simulator, leader: SimNode) -> bool:
        """After healing: one more write, whose acknowledgement shows the cluster commits again."""
        op_id = self._new_op_id()
        try:
            leader.node.propose(encode_command(Command(Op.PUT, op_id, "barrier", str(op_id))))
        except (NotLeader, ProposalDropped):
            return False
        self._barrier = op_id
        self._writes[op_id] = _Waiting(op_id, leader.id, leader.incarnation, sim.now + self.timeout_steps)
        return True

    @property
    def acked_barrier(self) -> bool:
        return self._barrier in self.acked

    # ---- answers -------------------------------------------------------------------------------

    def on_applied(self, sim: Simulator, node: SimNode, applied: list[tuple[int, object]]) -> None:
        for op_id, result in applied:
            waiting = self._writes.get(op_id)
            if waiting is None or waiting.node_id != node.id or waiting.incarnation != node.incarnation:
                continue
            del self._writes[op_id]
            self.acked.add(op_id)
            if waiting.position is not None:
                self._finish(sim, waiting.position, result)

    def on_read_states(self, node: SimNode, read_states: list[ReadState]) -> None:
        for rs in read_states:
            waiting = self._reads.get(rs.context)
            if waiting is not None and waiting.node_id == node.id and waiting.incarnation == node.incarnation:
                waiting.read_index = rs.index

    def serve_reads(self, sim: Simulator) -> None:
        """Answer confirmed reads whose node has applied up to their read index."""
        for context, waiting in list(self._reads.items()):
            if waiting.read_index is None:
                continue
            node = sim.nodes[waiting.node_id]
            if node.up and node.incarnation == waiting.incarnation and node.applied_index >= waiting.read_index:
                del self._reads[context]
                assert waiting.read is not None
                self.history.append(waiting.read)
                self._finish(sim, len(self.history) - 1, node.kv.get(waiting.read.key))

    def _finish(self, sim: Simulator, position: int, output: object) -> None:
        op = self.history[position]
        self.history[position] = replace(op, output=output, returned=sim.next_seq())
        client = self._client(op.client)
        client.waiting = False
        client.next_at = sim.now + self.rng.randint(1, self.think_steps)

    def _client(self, name: str) -> _Client:
        return next(c for c in self.clients if c.name == name)

    def _expire(self, sim: Simulator) -> None:
        """Give up waiting on a node past the deadline or gone down: a write's outcome is unknown, a get
        is asked again."""
        now = sim.now
        for table in (self._writes, self._reads):
            for key, waiting in list(table.items()):
                node = sim.nodes[waiting.node_id]
                lost = not node.up or node.incarnation != waiting.incarnation
                if now <= waiting.deadline and not lost:
                    continue
                del table[key]  # type: ignore[arg-type]
                if waiting.read is not None:
                    client = self._client(waiting.read.client)
                    client.waiting = False
                    client.current = waiting.read
                    client.op_id = waiting.op_id
                    client.target = ""
                elif waiting.position is not None:
                    client = self._client(self.history[waiting.position].client)
                    client.waiting = False
                    client.next_at = now + self.rng.randint(1, self.think_steps)
