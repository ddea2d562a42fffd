"""A tiny synchronous cluster for scenario tests: nodes with memory storage, a message queue, cut links.

``Net.stabilize()`` delivers messages until nobody has anything more to say, processing every
``Ready`` the way the runtime does (persist, send, apply, advance). Tests read the transcript of
what was said with ``Net.transcript`` (one line per message, see ``describe``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from cluster.raft import (
    Config,
    ConfState,
    Entry,
    EntryType,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    RawNode,
    ReadState,
    Role,
    Snapshot,
    SnapshotMeta,
    conf_change_of,
)


def log_storage(voters: tuple[str, ...], terms: list[int], *, term: int | None = None,
                learners: tuple[str, ...] = ()) -> MemoryStorage:
    """A storage whose log holds entries of ``terms`` at indexes 1, 2, ... (as the paper's figures
    draw them), with the membership in an empty snapshot at index 0 and the current term ``term``
    (default: the last entry's)."""
    storage = MemoryStorage()
    storage.apply_snapshot(Snapshot(meta=SnapshotMeta(conf=ConfState(voters=voters, learners=learners))))
    storage.append([Entry(t, i + 1, EntryType.NORMAL, f"{t}/{i + 1}".encode()) for i, t in enumerate(terms)])
    storage.set_hard_state(HardState(term=term if term is not None else max(terms, default=0)))
    return storage


def log_terms(node: RawNode) -> list[int]:
    """The terms of the entries a node holds, from its first index to its last."""
    log = node.raft.log
    return [e.term for e in log.slice(log.first_index(), log.last_index() + 1)]


def describe(m: Message) -> str:
    """One message as a short line, e.g. ``n1->n2 APPEND t2 i3/1 [2/4,2/5] c3``."""
    parts = [f"{m.sender}->{m.to} {m.type.name} t{m.term}"]
    if m.type in (MessageType.APPEND, MessageType.VOTE, MessageType.PRE_VOTE):
        parts.append(f"i{m.index}/{m.log_term}")
    if m.type == MessageType.APPEND:
        parts.append("[" + ",".join(f"{e.term}/{e.index}" for e in m.entries) + "]")
    if m.type in (MessageType.APPEND, MessageType.HEARTBEAT):
        parts.append(f"c{m.commit}")
    if m.type == MessageType.APPEND_RESP:
        parts.append(f"i{m.index}")
        if m.reject:
            parts.append(f"reject hint={m.log_term}/{m.reject_hint}")
    elif m.reject:
        parts.append("reject")
    if m.type == MessageType.SNAPSHOT and m.snapshot is not None:
        parts.append(f"snap={m.snapshot.meta.index}/{m.snapshot.meta.term}")
    if m.type == MessageType.READ_INDEX_RESP:
        parts.append(f"i{m.index}")
    if m.context:
        parts.append(f"ctx={m.context.decode(errors='replace')}")
    return " ".join(parts)


@dataclass
class Member:
    node: RawNode
    storage: MemoryStorage
    applied: list[Entry] = field(default_factory=list)
    read_states: list[ReadState] = field(default_factory=list)
    conf: ConfState = field(default_factory=ConfState)


class Net:
    """Nodes that talk through a queue; links can be cut one way or both, nodes can be taken down."""

    def __init__(self, ids: Iterable[str], *, voters: tuple[str, ...] | None = None,
                 learners: tuple[str, ...] = (), storages: dict[str, MemoryStorage] | None = None,
                 seed: int = 0, **config: object) -> None:
        ids = list(ids)
        self.base_config = Config(id="_", **config)  # type: ignore[arg-type]
        self.seed = seed
        self.members: dict[str, Member] = {}
        founders = voters if voters is not None else tuple(ids)
        for node_id in ids:
            if storages and node_id in storages:
                storage = storages[node_id]
            elif node_id in founders or node_id in learners:
                storage = MemoryStorage.bootstrap(founders, learners)
            else:
                storage = MemoryStorage()
            self.add(node_id, storage)
        self.queue: list[Message] = []
        self.cut: set[tuple[str, str]] = set()
        self.down: set[str] = set()
        self.transcript: list[str] = []
        self.drop_if: Callable[[Message], bool] | None = None

    def add(self, node_id: str, storage: MemoryStorage, **config: object) -> Member:
        cfg = replace(self.base_config, id=node_id, **config)  # type: ignore[arg-type]
        rng = random.Random(f"{self.seed}/{node_id}")
        member = Member(RawNode(cfg, storage, rng), storage, conf=storage.initial_state()[1])
        self.members[node_id] = member
        return member

    def node(self, node_id: str) -> RawNode:
        return self.members[node_id].node

    def restart(self, node_id: str, **config: object) -> RawNode:
        """Rebuild a node from its storage, as after a crash that lost nothing persisted."""
        old = self.members[node_id]
        member = self.add(node_id, old.storage, **config)
        member.applied = old.applied
        return member.node

    def leader(self) -> str:
        leaders = [i for i, m in self.members.items() if i not in self.down and m.node.role == Role.LEADER]
        assert len(leaders) == 1, f"expected one leader, found {leaders}"
        return leaders[0]

    # ---- links ---------------------------------------------------------------------------------

    def isolate(self, node_id: str) -> None:
        for other in self.members:
            if other != node_id:
                self.cut |= {(node_id, other), (other, node_id)}

    def partition(self, *groups: Iterable[str]) -> None:
        sets = [set(g) for g in groups]
        for a in self.members:
            for b in self.members:
                if a != b and not any(a in s and b in s for s in sets):
                    self.cut.add((a, b))

    def heal(self) -> None:
        self.cut.clear()
        self.drop_if = None

    # ---- driving -------------------------------------------------------------------------------

    def process(self, node_id: str) -> list[Message]:
        """Handle one node's Ready like the runtime: persist, apply, advance; return what it sends."""
        member = self.members[node_id]
        node = member.node
        if not node.has_ready():
            return []
        rd = node.ready()
        if rd.snapshot is not None:
            member.storage.apply_snapshot(rd.snapshot)
            member.conf = rd.snapshot.meta.conf
        member.storage.append(rd.entries)
        if rd.hard_state is not None:
            member.storage.set_hard_state(rd.hard_state)
        for entry in rd.committed_entries:
            if entry.type == EntryType.CONF_CHANGE:
                member.conf = node.apply_conf_change(conf_change_of(entry))
            member.applied.append(entry)
        member.read_states.extend(rd.read_states)
        node.advance(rd)
        return rd.messages

    def send(self, messages: Iterable[Message]) -> None:
        for m in messages:
            self.transcript.append(describe(m))
            self.queue.append(m)

    def flush(self) -> None:
        for node_id in self.members:
            if node_id not in self.down:
                self.send(self.process(node_id))

    def deliver_one(self, m: Message) -> None:
        if (m.sender, m.to) in self.cut or m.to in self.down or m.to not in self.members:
            return
        if self.drop_if is not None and self.drop_if(m):
            return
        self.members[m.to].node.step(m)

    def stabilize(self, max_rounds: int = 1000) -> None:
        """Deliver messages until the cluster is quiet."""
        for _ in range(max_rounds):
            self.flush()
            if not self.queue:
                return
            batch, self.queue = self.queue, []
            for m in batch:
                self.deliver_one(m)
        raise AssertionError("the cluster did not quiesce")

    def tick(self, node_id: str, ticks: int = 1) -> None:
        for _ in range(ticks):
            self.node(node_id).tick()

    def tick_all(self, ticks: int = 1, *, stabilize: bool = True) -> None:
        for _ in range(ticks):
            for node_id in self.members:
                if node_id not in self.down:
                    self.node(node_id).tick()
            if stabilize:
                self.stabilize()

    def elect(self, node_id: str) -> None:
        self.node(node_id).campaign()
        self.stabilize()
        assert self.node(node_id).role == Role.LEADER, f"{node_id} did not win: {self.transcript[-5:]}"

    def take(self) -> list[str]:
        """The transcript since the last call."""
        out, self.transcript = self.transcript, []
        return out

    def data_applied(self, node_id: str) -> list[bytes]:
        return [e.data for e in self.members[node_id].applied if e.type == EntryType.NORMAL]
