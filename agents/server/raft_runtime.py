"""The Raft runtime: the one asyncio driver around the pure core (``cluster.raft.RawNode``).

One task drives the node: it takes a ``Ready``, has it written (WAL records and one fsync, in the disk
thread, while the loop keeps receiving messages and proposals), sends its messages, applies its committed
entries to the state machine, resolves the futures of local proposals and reads, and calls ``advance``.
Proposals arriving during an fsync pile up in the core and go out together in the next batch: that is the
group commit, and it is why throughput grows with the number of clients. The ``DiskWriter`` keeps one
write in progress at a time and merges whatever queues behind it (the application's snapshots are written
behind the log that way, in order, without holding up the driver).

Persist before send, with one exception (dissertation §10.2.1: the leader may write to its own disk in
parallel with replicating to the followers): a leader whose batch changes no term or vote sends its appends first and
syncs while the followers do; see ``_may_send_first`` for why the core's early counting of the leader's own
entries cannot be acted upon before that sync. Everything else (votes, answers to appends, a batch that
changes the term) waits for the fsync. Letting the leader advance before its own sync (holding back the
followers' acknowledgments until it catches up) was measured too: it gained nothing on loopback, where a
follower's round trip always outlasts the leader's own fsync, and it cost a second code path.

Time: a tick every ``tick_ms`` (100 ms); an election timeout of ``election_ticks`` (8) ticks, randomized
by the core to 0.8-1.6 s; heartbeats every tick. A dead leader is noticed within 1.6 s, and a pre-vote,
a vote and the new leader's first entry take a few round trips and fsyncs more: a new leader commits
within 2 s. A tick that comes late is not made up: ticks are the core's notion of time, and bursts of
catch-up ticks after a stall (a GC pause, a starved CPU) would start needless elections.

Snapshots: once ``snapshot_entries`` entries were applied since the last snapshot, the state machine's
snapshot is taken, the core compacts its in-memory log (keeping ``keep_entries`` for slightly lagging
followers), and the WAL saves it and drops the segments it covers. The core sends snapshots to followers
that need compacted entries; a follower installs them through its ``Ready``.

Leader contact: each append, heartbeat or snapshot of the current term is the leader speaking, and its
arrival is stamped on an injectable monotonic clock; ``last_contact_ms`` is the time since (0 on the
leader). Servers report it as Nomad's ``LastContact`` so a caller of a stale read knows how stale it may be.

Errors (``NotLeader`` and ``ProposalDropped`` come from the core)::

    Unavailable
    ├── NotLeader          this node does not lead; ``leader_id`` names who does ("" unknown)
    ├── ProposalDropped    the leader refuses proposals now (a transfer, too much uncommitted), or the
    │                      proposal's entry was overwritten by another leader's
    ├── RequestTimeout     a read or a wait took longer than its timeout (no leader reachable)
    └── RuntimeStopped     the runtime stopped, or failed (a disk error), before the request finished

A proposal that fails with ``NotLeader`` after it was accepted (the leader lost leadership) has an unknown
outcome: its entry may still commit under the next leader.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from agents.server.raft_storage import (
    DiskWriter,
    DurableStorage,
    WriteBatch,
    WriteResult,
    decode_envelope,
    encode_envelope,
)
from agents.server.raft_transport import RaftTLS, RaftTransport, TransportConfig
from cluster.errors import InvalidInput, Unavailable
from cluster.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    NotLeader,
    ProposalDropped,
    RawNode,
    ReadState,
    Ready,
    Role,
    Snapshot,
    SoftState,
    Status,
    bootstrap_snapshot,
    conf_change_of,
)

__all__ = [
    "FSM",
    "NotLeader",
    "ProposalDropped",
    "RaftRuntime",
    "RequestTimeout",
    "RuntimeConfig",
    "RuntimeStats",
    "RuntimeStatus",
    "RuntimeStopped",
]

log = logging.getLogger(__name__)

Address = tuple[str, int]
_T = TypeVar("_T")


class RequestTimeout(Unavailable):
    """A read or a wait did not finish in time (typically: no leader reachable)."""


class RuntimeStopped(Unavailable):
    """The runtime stopped or failed before the request finished."""


class FSM(Protocol):
    """The replicated state machine. ``apply`` is called once per committed command, in log order, on every
    server, and must be deterministic; ``restore(b"")`` means the empty state."""

    def apply(self, index: int, data: bytes) -> object: ...

    def snapshot(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """The runtime's knobs; see the module docstring for why the timing defaults are what they are.

    ``bootstrap``: a founding server starts from the membership of ``peers`` (every founding server must be
    given the same peers); a server to be added later starts empty and waits for the leader's snapshot.
    """

    cluster_key: bytes
    tick_ms: int = 100
    election_ticks: int = 8
    heartbeat_ticks: int = 1
    snapshot_entries: int = 8192
    keep_entries: int = 1024
    bootstrap: bool = True
    pre_vote: bool = True
    check_quorum: bool = True
    max_entries_per_msg: int = 256
    max_inflight_msgs: int = 64
    max_queue_msgs: int = 8192
    seed: int | None = None
    tls: RaftTLS | None = None  # None: the cluster-key handshake on plain TCP

    def __post_init__(self) -> None:
        """Raise ``InvalidInput`` naming the first wrong field (the core's ``Config`` checks the rest)."""
        if not self.cluster_key:
            raise InvalidInput("raft runtime: a cluster key is required (it authenticates the servers)")
        for name in ("tick_ms", "snapshot_entries", "max_queue_msgs"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"raft runtime: {name} must be at least 1")
        if self.keep_entries < 0:
            raise InvalidInput("raft runtime: keep_entries must not be negative")

    @property
    def election_timeout_s(self) -> float:
        return self.election_ticks * self.tick_ms / 1000


@dataclass(slots=True)
class RuntimeStats:
    """Counters for benchmarks and operators: how the disk and the batching behave."""

    readies: int = 0
    synced_batches: int = 0
    synced_entries: int = 0
    sync_seconds: float = 0.0
    applied_entries: int = 0
    snapshots_taken: int = 0
    snapshots_installed: int = 0
    messages_dropped: int = 0


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    raft: Status
    snapshot_index: int
    connected: dict[str, bool]
    stats: RuntimeStats


@dataclass(slots=True)
class _Proposal:
    term: int
    future: asyncio.Future[object]


@dataclass(slots=True)
class _Reads:
    """Linearizable reads in flight: waiting for their read index, then for it to be applied."""

    prefix: bytes
    ids: itertools.count[int] = field(default_factory=itertools.count)
    asked: dict[bytes, tuple[str, int, asyncio.Future[int]]] = field(default_factory=dict)  # leader, term
    confirmed: list[tuple[int, bytes]] = field(default_factory=list)  # heap of (read index, context)
    confirmed_futures: dict[bytes, asyncio.Future[int]] = field(default_factory=dict)

    def next_context(self) -> bytes:
        # Unique across servers and incarnations: a duplicate context would join another pending read
        # at the leader and could be answered with that (older) read index.
        return self.prefix + next(self.ids).to_bytes(8, "big")


# What only a leader of the current term sends: receiving one is contact with the leader.
_FROM_LEADER = frozenset({MessageType.APPEND, MessageType.HEARTBEAT, MessageType.SNAPSHOT})


def _resolve(future: asyncio.Future[_T], result: _T) -> None:
    if not future.done():  # done: the caller gave up (timeout, cancellation)
        future.set_result(result)


def _reject(future: asyncio.Future[_T], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _encode_address(address: Address) -> bytes:
    return f"{address[0]}:{address[1]}".encode()


def _decode_address(data: bytes) -> Address | None:
    host, _, port = data.decode().rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


class RaftRuntime:
    """One Raft server: the core, its WAL, its transport, its timers, and the state machine it drives.

    ``peers`` maps every founding member's id (this one included) to its Raft address; this server
    listens on its own. Addresses of members added later travel in their membership change and in
    snapshots; at start, ``peers`` overrides what a snapshot recorded. ``data_dir`` holds the WAL
    (``data_dir / "raft"``).
    """

    def __init__(self, node_id: str, peers: dict[str, Address], data_dir: Path, fsm: FSM,
                 config: RuntimeConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        assert node_id in peers, "peers must include this server's own address"
        self.node_id = node_id
        self._clock = clock
        self._last_leader_contact_s = clock()  # before any leader spoke: since the runtime was made
        self.fsm = fsm
        self.config = config
        self.stats = RuntimeStats()
        self._given_peers = dict(peers)
        self._peers = dict(peers)
        self._dir = Path(data_dir) / "raft"
        seed = config.seed if config.seed is not None else int.from_bytes(os.urandom(8), "big")
        self._rng = random.Random(seed)
        self._reads = _Reads(prefix=self._rng.randbytes(8))
        self._proposals: dict[int, _Proposal] = {}
        self._lazy_hard_state: HardState | None = None
        self._durable_hard_state = HardState()
        self._leader = ""
        self._leader_changed = asyncio.Event()
        self.leadership_listeners: list[Callable[[str], None]] = []
        """Called on the event loop with the new leader's id ("" none known) each time it changes, so the
        agent starts and stops its leader loops at once rather than by polling."""
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._disk: ThreadPoolExecutor | None = None
        self._writer: DiskWriter
        self._failure: BaseException | None = None
        self._stopped = False
        self.done: asyncio.Future[None] | None = None
        """Resolves when the runtime stops; holds the exception if it failed (a disk error)."""
        self._node: RawNode
        self._storage: DurableStorage
        self._transport: RaftTransport

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from the data directory, restore the state machine, listen, and start the timers."""
        loop = asyncio.get_running_loop()
        self.done = loop.create_future()
        self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"raft-disk-{self.node_id}")
        bootstrap = None
        if self.config.bootstrap:
            empty = bootstrap_snapshot(tuple(sorted(self._peers)))
            bootstrap = Snapshot(empty.meta, encode_envelope(self._peers, b""))
        self._storage = await loop.run_in_executor(self._disk, DurableStorage.open, self._dir, bootstrap)
        for warning in self._storage.warnings:
            log.warning("raft %s: WAL recovery: %s", self.node_id, warning)
        self._durable_hard_state = self._storage.memory.hard_state
        self._writer = DiskWriter(self._storage, self._disk, self._on_written)
        self._restore(self._storage.memory.snapshot())
        self._peers.update(self._given_peers)  # what the operator says now beats what the snapshot recorded
        self._node = RawNode(self._core_config(), self._storage.memory, self._rng)
        self._transport = RaftTransport(
            self.node_id, self._peers[self.node_id], self._peers,
            TransportConfig(cluster_key=self.config.cluster_key, max_queue_msgs=self.config.max_queue_msgs,
                            tls=self.config.tls),
            self._on_message, self._on_dropped, self._rng,
        )
        await self._transport.start()
        self._tasks = [
            asyncio.create_task(self._drive(), name=f"raft-driver-{self.node_id}"),
            asyncio.create_task(self._tick(), name=f"raft-ticker-{self.node_id}"),
        ]

    def _core_config(self) -> Config:
        c = self.config
        return Config(
            id=self.node_id, election_ticks=c.election_ticks, heartbeat_ticks=c.heartbeat_ticks,
            pre_vote=c.pre_vote, check_quorum=c.check_quorum, max_entries_per_msg=c.max_entries_per_msg,
            max_inflight_msgs=c.max_inflight_msgs,
        )

    async def stop(self) -> None:
        """Stop the timers and the driver, close the connections, and sync and close the WAL."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._transport.stop()
        assert self._disk is not None
        loop = asyncio.get_running_loop()
        try:
            if self._failure is None:
                await self._writer.write(WriteBatch(hard_state=self._lazy_hard_state))
            await loop.run_in_executor(self._disk, self._storage.close)
        finally:
            self._disk.shutdown(wait=True)
            self._fail_all(RuntimeStopped(f"raft server {self.node_id} stopped"))
            if self.done is not None and not self.done.done():
                self.done.set_result(None)

    # ---- requests --------------------------------------------------------------------------------

    def propose_nowait(self, data: bytes) -> asyncio.Future[object]:
        """Append a command; the future resolves with the state machine's result once it is applied here.
        Raises ``NotLeader`` or ``ProposalDropped`` at once when this server cannot take it."""
        return self.propose_many([data])[0]

    def propose_many(self, commands: list[bytes]) -> list[asyncio.Future[object]]:
        """Append several commands in one step of the core; one future per command, in order."""
        self._check_running()
        self._node.propose_batch(commands)
        last = self._node.raft.log.last_index()
        term = self._node.term
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[object]] = []
        for index in range(last - len(commands) + 1, last + 1):
            future: asyncio.Future[object] = loop.create_future()
            self._track(index, _Proposal(term, future))
            futures.append(future)
        self._wake.set()
        return futures

    def _track(self, index: int, proposal: _Proposal) -> None:
        """Remember a local proposal. An older one at the same index lost its entry to another leader
        (leadership was lost and won again within one batch, too fast to show in a soft state)."""
        old = self._proposals.get(index)
        if old is not None:
            _reject(old.future, ProposalDropped(f"entry {index} was overwritten by a later leader"))
        self._proposals[index] = proposal

    async def propose(self, data: bytes) -> object:
        """Replicate ``data`` and return what the state machine's ``apply`` returned for it."""
        return await self.propose_nowait(data)

    async def read_index(self, timeout_s: float | None = None) -> int:
        """Linearizable read barrier: returns once this server applied everything committed when the
        call was made (dissertation §6.4); reading the local state machine then is linearizable.
        Works on followers too (they ask the leader). Raises ``NotLeader`` with no known leader."""
        self._check_running()
        reads = self._reads
        context = reads.next_context()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._node.read_index(context)
        reads.asked[context] = (self._node.leader_id, self._node.term, future)
        self._wake.set()
        try:
            return await self._wait(future, timeout_s, "read index")
        finally:
            reads.asked.pop(context, None)
            reads.confirmed_futures.pop(context, None)

    async def wait_for_leader(self, timeout_s: float | None = None) -> str:
        """The leader's id, once one is known (default timeout: four election timeouts)."""
        timeout = timeout_s if timeout_s is not None else 4 * self.config.election_timeout_s
        await self._until(lambda: bool(self._leader), timeout, f"no leader known to {self.node_id}")
        return self._leader

    async def transfer_leadership(self, to: str, timeout_s: float | None = None) -> None:
        """Hand leadership to voter ``to`` (dissertation §3.10) and wait until it leads."""
        self._check_running()
        self._node.transfer_leadership(to)
        self._wake.set()
        timeout = timeout_s if timeout_s is not None else 2 * self.config.election_timeout_s
        await self._until(lambda: self._leader == to, timeout, f"leadership did not move to {to}")

    async def _until(self, condition: Callable[[], bool], timeout_s: float, failure: str) -> None:
        """Wait for a condition on the known leader, re-checked at each leader change."""
        try:
            async with asyncio.timeout(timeout_s):
                while not condition():
                    self._check_running()
                    await self._leader_changed.wait()
        except TimeoutError:
            raise RequestTimeout(failure) from None

    async def add_voter(self, node_id: str, address: Address) -> ConfState:
        """Add a voter (or promote a learner in one step); returns the membership once applied here."""
        return await self._conf_change(ConfChange(ConfChangeType.ADD_VOTER, node_id, _encode_address(address)))

    async def add_learner(self, node_id: str, address: Address) -> ConfState:
        """Add a non-voting member, which receives the log (add one first, promote it once caught up)."""
        return await self._conf_change(ConfChange(ConfChangeType.ADD_LEARNER, node_id, _encode_address(address)))

    async def promote_learner(self, node_id: str) -> ConfState:
        return await self._conf_change(ConfChange(ConfChangeType.PROMOTE_LEARNER, node_id))

    async def remove_node(self, node_id: str) -> ConfState:
        """Remove a voter or learner; a leader that removes itself steps down once the change applies."""
        return await self._conf_change(ConfChange(ConfChangeType.REMOVE_NODE, node_id))

    async def _conf_change(self, change: ConfChange) -> ConfState:
        self._check_running()
        self._node.propose_conf_change(change)
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self._track(self._node.raft.log.last_index(), _Proposal(self._node.term, future))
        self._wake.set()
        result = await future
        assert isinstance(result, ConfState)
        return result

    # ---- views -----------------------------------------------------------------------------------

    @property
    def leader_id(self) -> str:
        return self._leader

    @property
    def is_leader(self) -> bool:
        return self._leader == self.node_id

    def last_contact_ms(self) -> int:
        """Milliseconds since a leader last spoke to this server (0 on the leader): how stale a read
        served here may be, as Nomad's ``X-Nomad-LastContact`` tells callers."""
        if self.is_leader:
            return 0
        return max(0, int((self._clock() - self._last_leader_contact_s) * 1000))

    def status(self) -> RuntimeStatus:
        return RuntimeStatus(
            raft=self._node.status(),
            snapshot_index=self._storage.memory.snapshot().meta.index,
            connected=self._transport.connected(),
            stats=self.stats,
        )

    # ---- the driver ------------------------------------------------------------------------------

    async def _drive(self) -> None:
        node = self._node
        try:
            while True:
                if not node.has_ready():
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                rd = node.ready()
                await self._handle_ready(rd)
                node.advance(rd)
                self._resolve_confirmed_reads()
                self._maybe_snapshot()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            log.exception("raft %s: the driver failed; the server stops", self.node_id)
            self._fail(exc)

    async def _handle_ready(self, rd: Ready) -> None:
        self.stats.readies += 1
        batch = self._batch_of(rd)
        send_first = self._may_send_first(rd)
        if send_first:
            self._send(rd.messages)
        if batch or self._writer.busy:
            await self._writer.write(batch)  # an empty batch waits for the writes queued before it
        if not send_first:
            self._send(rd.messages)
        if batch.hard_state is not None:
            self._durable_hard_state = batch.hard_state
        self._storage.remember(rd.snapshot, rd.entries, rd.hard_state)
        if rd.snapshot is not None:
            self._install(rd.snapshot)
        self._apply(rd.committed_entries)
        if rd.read_states:
            self._confirm_reads(rd.read_states)
        if rd.soft_state is not None:
            self._on_soft_state(rd.soft_state)
        if self._reads.asked and (rd.soft_state is not None or rd.hard_state is not None):
            self._fail_lost_reads()

    def _batch_of(self, rd: Ready) -> WriteBatch:
        """What ``rd`` asks the disk to hold. A hard state that only moves the commit index waits for the
        next batch that syncs anyway (Raft can always learn a commit index again)."""
        hard = rd.hard_state
        if not rd.must_sync:
            if hard is not None:
                self._lazy_hard_state = hard
            return WriteBatch()
        hard = hard or self._lazy_hard_state
        self._lazy_hard_state = None
        return WriteBatch(snapshot=rd.snapshot, entries=rd.entries, hard_state=hard)

    def _may_send_first(self, rd: Ready) -> bool:
        """Dissertation §10.2.1: the leader may send its appends while it writes them itself. It must count
        itself toward a commit only for entries it has made durable; the core counts the leader's entries
        as soon as they are appended, but a commit only leaves the core through a later ``Ready`` (committed
        entries to apply, commit indexes in messages), and the next ``Ready`` is taken after this one's write
        is durable; entries appended meanwhile have not been sent, so no follower can acknowledge them.
        Not when the batch changes our term or vote: the messages then depend on it."""
        if self._node.role != Role.LEADER or rd.snapshot is not None:
            return False
        hard, durable = rd.hard_state, self._durable_hard_state
        return hard is None or (hard.term, hard.vote) == (durable.term, durable.vote)

    def _on_written(self, result: WriteResult) -> None:
        self.stats.synced_batches += 1
        self.stats.synced_entries += result.entries
        self.stats.sync_seconds += result.seconds

    def _check_written(self, future: asyncio.Future[WriteResult]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self._fail(future.exception() or RuntimeError("disk write failed"))

    def _send(self, messages: list[Message]) -> None:
        send = self._transport.send
        for msg in messages:
            send(msg)

    def _install(self, snapshot: Snapshot) -> None:
        """A snapshot from the leader replaces the state machine; proposals it covers cannot be known."""
        self._restore(snapshot)
        self.stats.snapshots_installed += 1
        for index in [i for i in self._proposals if i <= snapshot.meta.index]:
            _reject(self._proposals.pop(index).future, ProposalDropped("replaced by a snapshot"))

    def _restore(self, snapshot: Snapshot) -> None:
        envelope = decode_envelope(snapshot.data)
        self.fsm.restore(envelope.state)
        for peer_id, address in envelope.addresses.items():
            self._learn_address(peer_id, address)

    def _learn_address(self, peer_id: str, address: Address) -> None:
        if peer_id == self.node_id:
            return
        self._peers[peer_id] = address
        transport = getattr(self, "_transport", None)
        if transport is not None:
            transport.set_peer(peer_id, address)

    def _apply(self, entries: list[Entry]) -> None:
        proposals = self._proposals
        for entry in entries:
            result: object = None
            if entry.type == EntryType.NORMAL:
                result = self.fsm.apply(entry.index, entry.data)
            elif entry.type == EntryType.CONF_CHANGE:
                result = self._apply_conf_change(entry)
            proposal = proposals.pop(entry.index, None) if proposals else None
            if proposal is not None:
                if proposal.term == entry.term:
                    _resolve(proposal.future, result)
                else:
                    _reject(proposal.future, ProposalDropped(
                        f"entry {entry.index} was overwritten by a leader of term {entry.term}"))
        self.stats.applied_entries += len(entries)

    def _apply_conf_change(self, entry: Entry) -> ConfState:
        change = conf_change_of(entry)
        conf = self._node.apply_conf_change(change)
        if change.type == ConfChangeType.REMOVE_NODE and change.node_id != self.node_id:
            if change.node_id not in conf.voters + conf.learners:
                self._peers.pop(change.node_id, None)
                self._transport.remove_peer(change.node_id)
        elif change.context:
            address = _decode_address(change.context)
            if address is not None:
                self._learn_address(change.node_id, address)
        return conf

    def _on_soft_state(self, soft: SoftState) -> None:
        was_leader = self._leader == self.node_id
        if soft.leader_id != self._leader:
            self._leader = soft.leader_id
            self._leader_changed.set()
            self._leader_changed = asyncio.Event()
            for listener in list(self.leadership_listeners):
                listener(soft.leader_id)
        if was_leader and soft.role != Role.LEADER:
            for proposal in self._proposals.values():
                _reject(proposal.future, NotLeader(soft.leader_id))
            self._proposals.clear()

    # ---- reads -----------------------------------------------------------------------------------

    def _confirm_reads(self, read_states: list[ReadState]) -> None:
        reads = self._reads
        for rs in read_states:
            asked = reads.asked.pop(rs.context, None)
            if asked is None or asked[2].done():
                continue
            future = asked[2]
            reads.confirmed_futures[rs.context] = future
            heapq.heappush(reads.confirmed, (rs.index, rs.context))
        self._resolve_confirmed_reads()

    def _resolve_confirmed_reads(self) -> None:
        reads = self._reads
        applied = self._node.raft.log.applied
        while reads.confirmed and reads.confirmed[0][0] <= applied:
            index, context = heapq.heappop(reads.confirmed)
            future = reads.confirmed_futures.pop(context, None)
            if future is not None:
                _resolve(future, index)

    def _fail_lost_reads(self) -> None:
        """Reads asked of a leader that no longer leads, or in an older term, will get no answer (a leader
        forgets its pending reads when its term ends): fail them so that their callers retry at once.
        Compared with the core's view, which the runtime's own ``leader_id`` follows one batch late."""
        leader, term = self._node.leader_id, self._node.term
        asked = self._reads.asked
        for context in [c for c, (lead, t, _) in asked.items() if lead != leader or t != term]:
            _reject(asked.pop(context)[2], NotLeader(leader))

    def _fail_asked_reads(self, error: BaseException) -> None:
        for _, _, future in self._reads.asked.values():
            _reject(future, error)
        self._reads.asked.clear()

    # ---- snapshots -------------------------------------------------------------------------------

    def _maybe_snapshot(self) -> None:
        node, memory = self._node, self._storage.memory
        if node.raft.log.applied - memory.snapshot().meta.index < self.config.snapshot_entries:
            return
        data = encode_envelope(self._transport.addresses(), self.fsm.snapshot())
        snapshot = node.compact(data, keep_entries=self.config.keep_entries)
        self.stats.snapshots_taken += 1
        # Written behind, in order with the log: the next batches go out meanwhile.
        self._writer.write(WriteBatch(own_snapshot=snapshot)).add_done_callback(self._check_written)

    # ---- inputs from the network and the clock ---------------------------------------------------

    def _on_message(self, msg: Message) -> None:
        if self._failure is not None or self._stopped:
            return
        if msg.type in _FROM_LEADER and msg.term >= self._node.term:
            self._last_leader_contact_s = self._clock()
        self._node.step(msg)
        self._wake.set()

    def _on_dropped(self, msg: Message) -> None:
        self.stats.messages_dropped += 1
        if self._failure is not None or self._stopped:
            return
        self._node.report_unreachable(msg.to)
        if msg.type == MessageType.SNAPSHOT:
            self._node.report_snapshot(msg.to, ok=False)
        self._wake.set()

    async def _tick(self) -> None:
        tick_s = self.config.tick_ms / 1000
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += tick_s
            delay = deadline - loop.time()
            if delay < 0:
                deadline = loop.time()  # late: do not make up for the lost ticks
            else:
                await asyncio.sleep(delay)
            self._node.tick()
            self._wake.set()

    # ---- helpers ---------------------------------------------------------------------------------

    def _check_running(self) -> None:
        if self._stopped or self._failure is not None or not self._tasks:
            raise RuntimeStopped(f"raft server {self.node_id} is not running")

    async def _wait(self, future: asyncio.Future[_T], timeout_s: float | None, what: str) -> _T:
        timeout = timeout_s if timeout_s is not None else 2 * self.config.election_timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(future)
        except TimeoutError:
            raise RequestTimeout(f"{what} on {self.node_id} took over {timeout:.1f} s") from None

    def _fail(self, error: BaseException) -> None:
        """A disk error or a bug: stop taking part (a server that cannot write must not answer)."""
        if self._failure is not None:
            return
        self._failure = error
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._fail_all(RuntimeStopped(f"raft server {self.node_id} failed: {error}"))
        if self.done is not None and not self.done.done():
            self.done.set_exception(error)

    def _fail_all(self, error: Unavailable) -> None:
        self._leader_changed.set()  # wakes ``_until`` waiters, which then see that we stopped
        for proposal in self._proposals.values():
            _reject(proposal.future, error)
        self._proposals.clear()
        self._fail_asked_reads(error)
        for future in self._reads.confirmed_futures.values():
            _reject(future, error)
        self._reads.confirmed_futures.clear()
