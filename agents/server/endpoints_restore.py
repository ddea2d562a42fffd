"""``Operator.SnapshotRestore``: the whole state replaced by a saved one (``operator snapshot restore``).

The state arrives in chunks (the RPC frame limit is 16 MiB) under an upload id the first call makes up:
each call sends the next ``Offset``; the call with ``Final`` also carries the whole state's SHA-256, which
must match. The leader then commits one ``StateRestore`` entry (Raft entries may be far larger than RPC
frames), so every server installs the same state at the same point of its log, and restarts its leader
loops: the eval broker, blocked evaluations and timers are rebuilt from the restored state, as after an
election. Uploads not finished within ``UPLOAD_KEEP_S`` are dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import OrderedDict
from typing import TYPE_CHECKING

import msgspec

from agents.rpc import CallContext, Registry, Role
from cluster import fsm
from cluster.errors import InvalidInput, NotFound
from cluster.state import state_from_bytes

if TYPE_CHECKING:
    from agents.server.agent import ServerAgent

__all__ = ["MAX_RESTORE_BYTES", "SnapshotRestoreRequest", "SnapshotRestoreResponse", "register"]

MAX_RESTORE_BYTES = 1 << 30
UPLOAD_KEEP_S = 300.0
MAX_UPLOADS = 2


class SnapshotRestoreRequest(msgspec.Struct, kw_only=True):
    UploadID: str = ""  # "": a new upload
    Offset: int = 0
    Data: bytes = b""
    Final: bool = False
    SHA256: str = ""  # of the whole state, with Final
    Region: str = ""


class SnapshotRestoreResponse(msgspec.Struct, kw_only=True):
    UploadID: str
    Received: int
    Index: int = 0  # with Final: the Raft index the state was restored at


class _Uploads:
    def __init__(self) -> None:
        self._parts: OrderedDict[str, tuple[float, bytearray]] = OrderedDict()

    def open(self) -> str:
        self._expire()
        upload_id = os.urandom(16).hex()
        self._parts[upload_id] = (asyncio.get_running_loop().time(), bytearray())
        while len(self._parts) > MAX_UPLOADS:
            self._parts.popitem(last=False)
        return upload_id

    def get(self, upload_id: str) -> bytearray:
        self._expire()
        found = self._parts.get(upload_id)
        if found is None:
            raise NotFound(f"restore upload {upload_id[:32]} is gone (older than {UPLOAD_KEEP_S:.0f} s, or the "
                           "leader changed); send the snapshot again")
        return found[1]

    def close(self, upload_id: str) -> None:
        self._parts.pop(upload_id, None)

    def _expire(self) -> None:
        now = asyncio.get_running_loop().time()
        for key in [k for k, (t, _) in self._parts.items() if now - t > UPLOAD_KEEP_S]:
            del self._parts[key]


def register(registry: Registry, agent: ServerAgent) -> None:
    uploads = _Uploads()

    @registry.endpoint("Operator.SnapshotRestore", roles={Role.SERVER, Role.WEB})
    async def snapshot_restore(ctx: CallContext, args: SnapshotRestoreRequest) -> SnapshotRestoreResponse:
        forwarded = await agent.forwarder.forward(ctx, args, SnapshotRestoreResponse,
                                                  region=args.Region or None, to_leader=True)
        if forwarded is not None:
            return forwarded
        upload_id = args.UploadID or uploads.open()
        data = uploads.get(upload_id)
        if args.Offset != len(data):
            raise InvalidInput(f"restore upload {upload_id}: expected offset {len(data)}, got {args.Offset}")
        if len(data) + len(args.Data) > MAX_RESTORE_BYTES:
            uploads.close(upload_id)
            raise InvalidInput(f"a snapshot larger than {MAX_RESTORE_BYTES} bytes cannot be restored")
        data += args.Data
        if not args.Final:
            return SnapshotRestoreResponse(UploadID=upload_id, Received=len(data))
        uploads.close(upload_id)
        state = bytes(data)
        if hashlib.sha256(state).hexdigest() != args.SHA256.lower():
            raise InvalidInput("the snapshot's checksum does not match: it was damaged on the way; nothing restored")
        state_from_bytes(state)  # refuse what is no state before it reaches the log
        index = await agent.propose(fsm.StateRestore(State=state))
        await _restart_leader_loops(agent)
        return SnapshotRestoreResponse(UploadID=upload_id, Received=len(state),
                                       Index=index if isinstance(index, int) else 0)


async def _restart_leader_loops(agent: ServerAgent) -> None:
    """What lives only in the leader's memory is rebuilt from the restored state, as after an election."""
    loops = agent.loops
    if loops is not None and loops.running:
        await loops.stop()
        loops.start()
