"""A standalone process hosting one Raft server with a key-value state machine and a client port.

It exists for the runtime's process tests and for the benchmark; the server agent will host the runtime
itself later. Run::

    CARAVAN_CLUSTER_KEY=secret python -m agents.server.kvnode --id n1 \\
        --peers n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003 --client-port 7101 --data-dir D

Client protocol: length-prefixed msgpack frames (as the Raft transport's) both ways. A request is
``[id, op, key, value, expected]`` with ``op`` one of ``put``, ``get``, ``cas``, ``status``; the answer is
``[id, ok, value, error, leader]`` and carries the request's id, so a client may pipeline requests on one
connection (answers to writes come back in commit order, reads may overtake them).

* ``put key value``: replicate, answer once applied on this (leader) server.
* ``cas key expected value``: set ``key`` to ``value`` if its value is ``expected`` (None: absent);
  ``ok`` false with ``error`` "cas_failed" and the current value otherwise.
* ``get key``: a linearizable read (a ReadIndex barrier) on any server, followers included.
* ``status``: this server's Raft status, as JSON in ``value``.

Errors: "not_leader" (``leader`` names the leader's id, "" when unknown), "dropped", "unavailable",
"bad_request".
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec

from agents.server.raft_runtime import (
    NotLeader,
    ProposalDropped,
    RaftRuntime,
    RuntimeConfig,
)
from agents.server.raft_transport import FrameDecoder, encode_frame
from agents.server.wal import WALError
from cluster.errors import InvalidInput, Unavailable

__all__ = ["KVClient", "KVError", "KVStore", "Request", "Response", "main", "parse_peers"]

log = logging.getLogger(__name__)

Address = tuple[str, int]
_MAX_CLIENT_FRAME_BYTES = 16 << 20
_DEFAULTS = RuntimeConfig(cluster_key=b"defaults only")


# ---- the state machine -------------------------------------------------------------------------------


class Put(msgspec.Struct, tag="put", array_like=True, frozen=True):
    key: str
    value: bytes


class Cas(msgspec.Struct, tag="cas", array_like=True, frozen=True):
    key: str
    expected: bytes | None
    value: bytes


Command = Put | Cas
_command_encoder = msgspec.msgpack.Encoder()
_command_decoder = msgspec.msgpack.Decoder(Command)
_state_decoder = msgspec.msgpack.Decoder(dict[str, bytes])


class KVStore:
    """The replicated map. ``apply`` returns ``(True, None)`` for a put, ``(swapped, current)`` for a cas."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.applied_index = 0

    def apply(self, index: int, data: bytes) -> object:
        command = _command_decoder.decode(data)
        self.applied_index = index
        if isinstance(command, Put):
            self.data[command.key] = command.value
            return (True, None)
        current = self.data.get(command.key)
        if current != command.expected:
            return (False, current)
        self.data[command.key] = command.value
        return (True, command.value)

    def snapshot(self) -> bytes:
        return msgspec.msgpack.encode(self.data)

    def restore(self, data: bytes) -> None:
        self.data = _state_decoder.decode(data) if data else {}


# ---- the client protocol ----------------------------------------------------------------------------


class Request(msgspec.Struct, array_like=True, frozen=True):
    id: int
    op: str
    key: str = ""
    value: bytes | None = None
    expected: bytes | None = None


class Response(msgspec.Struct, array_like=True, frozen=True):
    id: int
    ok: bool
    value: bytes | None = None
    error: str = ""
    leader: str = ""


_request_decoder = msgspec.msgpack.Decoder(Request)
_response_decoder = msgspec.msgpack.Decoder(Response)
_encoder = msgspec.msgpack.Encoder()


class _ClientConnection:
    """One client connection: requests in, answers batched into one write per loop iteration."""

    def __init__(self, server: KVServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.out: list[bytes] = []
        self.flush_scheduled = False

    def answer(self, response: Response) -> None:
        self.out.append(encode_frame(_encoder.encode(response)))
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.out and not self.writer.is_closing():
            self.writer.write(b"".join(self.out))
        self.out.clear()


class KVServer:
    """Serves the client protocol on top of a ``RaftRuntime`` hosting a ``KVStore``."""

    def __init__(self, runtime: RaftRuntime, store: KVStore) -> None:
        self.runtime = runtime
        self.store = store
        self._reads: set[asyncio.Task[Response]] = set()  # the loop holds tasks only weakly

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _ClientConnection(self, writer)
        decoder = FrameDecoder(_MAX_CLIENT_FRAME_BYTES)
        try:
            while data := await reader.read(256 << 10):
                writes: list[Request] = []
                for payload in decoder.feed(data):
                    request = _request_decoder.decode(payload)
                    if request.op in ("put", "cas"):
                        writes.append(request)
                    else:
                        self._handle_other(conn, request)
                if writes:
                    self._propose(conn, writes)
                await writer.drain()
        except (msgspec.DecodeError, msgspec.ValidationError, OSError) as exc:
            log.info("kvnode: closing a client connection: %s", exc)
        except asyncio.CancelledError:
            pass  # shutting down; ending normally spares asyncio's server a traceback
        finally:
            writer.close()

    def _propose(self, conn: _ClientConnection, requests: list[Request]) -> None:
        """All the writes of one read from the socket go to the core as one batch."""
        commands: list[bytes] = []
        for r in requests:
            if r.op == "put":
                commands.append(_command_encoder.encode(Put(r.key, r.value or b"")))
            else:
                commands.append(_command_encoder.encode(Cas(r.key, r.expected, r.value or b"")))
        try:
            futures = self.runtime.propose_many(commands)
        except (NotLeader, ProposalDropped, Unavailable) as exc:
            for r in requests:
                conn.answer(_error_response(r.id, exc))
            return
        for request, future in zip(requests, futures, strict=True):
            future.add_done_callback(_answer_write(conn, request.id))

    def _handle_other(self, conn: _ClientConnection, request: Request) -> None:
        if request.op == "get":
            task = asyncio.create_task(self._get(request))
            self._reads.add(task)
            task.add_done_callback(lambda t: self._read_done(conn, t))
        elif request.op == "status":
            conn.answer(Response(request.id, True, json.dumps(self.status()).encode()))
        else:
            conn.answer(Response(request.id, False, error="bad_request"))

    def _read_done(self, conn: _ClientConnection, task: asyncio.Task[Response]) -> None:
        self._reads.discard(task)
        if not task.cancelled():
            conn.answer(task.result())

    async def _get(self, request: Request) -> Response:
        try:
            await self.runtime.read_index()
        except Unavailable as exc:
            return _error_response(request.id, exc)
        return Response(request.id, True, self.store.data.get(request.key), leader=self.runtime.leader_id)

    def status(self) -> dict[str, object]:
        s = self.runtime.status()
        return {
            "id": s.raft.id,
            "role": s.raft.soft_state.role.name.lower(),
            "leader": s.raft.soft_state.leader_id,
            "term": s.raft.hard_state.term,
            "commit": s.raft.hard_state.commit,
            "applied": s.raft.applied,
            "last_index": s.raft.last_index,
            "snapshot_index": s.snapshot_index,
            "voters": list(s.raft.conf.voters),
            "keys": len(self.store.data),
            "connected": s.connected,
            "stats": dataclasses.asdict(s.stats),
        }


def _error_response(request_id: int, exc: BaseException) -> Response:
    if isinstance(exc, NotLeader):
        return Response(request_id, False, error="not_leader", leader=exc.leader_id)
    if isinstance(exc, ProposalDropped):
        return Response(request_id, False, error="dropped")
    return Response(request_id, False, error="unavailable")


def _answer_write(conn: _ClientConnection, request_id: int) -> Callable[[asyncio.Future[object]], None]:
    def answer(future: asyncio.Future[object]) -> None:
        conn.answer(_write_response(request_id, future))

    return answer


def _write_response(request_id: int, future: asyncio.Future[object]) -> Response:
    if future.cancelled():
        return Response(request_id, False, error="unavailable")
    exc = future.exception()
    if exc is not None:
        return _error_response(request_id, exc)
    result = future.result()
    assert isinstance(result, tuple)
    swapped, current = result
    if not swapped:
        return Response(request_id, False, current, error="cas_failed")
    return Response(request_id, True, current)


# ---- a client ----------------------------------------------------------------------------------------


class KVError(Exception):
    """A request failed; ``error`` is the protocol's error code, ``leader`` the leader's id if known."""

    def __init__(self, response: Response) -> None:
        self.error = response.error
        self.leader = response.leader
        self.value = response.value
        super().__init__(f"{response.error} (leader: {response.leader or 'unknown'})")


class KVClient:
    """An asyncio client for one server's client port; pipelines any number of concurrent requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Response]] = {}
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._broken: BaseException | None = None
        self._receiver = asyncio.create_task(self._receive())

    @classmethod
    async def connect(cls, host: str, port: int, timeout_s: float = 2.0) -> KVClient:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, op: str, key: str = "", value: bytes | None = None,
                      expected: bytes | None = None) -> Response:
        """Send one request (batched with others sent in the same loop iteration) and await its answer."""
        if self._broken is not None:
            raise ConnectionError(f"the connection is closed: {self._broken}")
        request_id = next(self._ids)
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._out.append(encode_frame(_encoder.encode(Request(request_id, op, key, value, expected))))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    async def put(self, key: str, value: bytes) -> None:
        response = await self.request("put", key, value)
        if not response.ok:
            raise KVError(response)

    async def get(self, key: str) -> bytes | None:
        response = await self.request("get", key)
        if not response.ok:
            raise KVError(response)
        return response.value

    async def cas(self, key: str, expected: bytes | None, value: bytes) -> bool:
        """True if swapped; False if the current value was not ``expected``."""
        response = await self.request("cas", key, value, expected)
        if response.error == "cas_failed":
            return False
        if not response.ok:
            raise KVError(response)
        return True

    async def status(self) -> dict[str, object]:
        response = await self.request("status")
        assert response.ok and response.value is not None
        status: dict[str, object] = json.loads(response.value)
        return status

    async def close(self) -> None:
        self._receiver.cancel()
        self._writer.close()
        await asyncio.gather(self._receiver, return_exceptions=True)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and not self._writer.is_closing():
            self._writer.write(b"".join(self._out))
        self._out.clear()

    async def _receive(self) -> None:
        decoder = FrameDecoder(_MAX_CLIENT_FRAME_BYTES)
        error: BaseException = ConnectionResetError("the server closed the connection")
        try:
            while data := await self._reader.read(256 << 10):
                for payload in decoder.feed(data):
                    response = _response_decoder.decode(payload)
                    future = self._waiting.pop(response.id, None)
                    if future is not None and not future.done():
                        future.set_result(response)
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            error = exc
        except asyncio.CancelledError:
            error = ConnectionAbortedError("the client was closed")
            raise
        finally:
            self._broken = error
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError(str(error)))
            self._waiting.clear()


# ---- the process -------------------------------------------------------------------------------------


def parse_peers(text: str) -> dict[str, Address]:
    """``n1=127.0.0.1:7001,n2=...`` as a dict; raises ``ValueError`` naming the bad item."""
    peers: dict[str, Address] = {}
    for item in text.split(","):
        node_id, _, address = item.strip().partition("=")
        host, _, port = address.rpartition(":")
        if not node_id or not host or not port.isdigit():
            raise ValueError(f"bad peer {item!r}: expected id=host:port")
        peers[node_id] = (host, int(port))
    return peers


def _cluster_key(path: str | None) -> bytes:
    if path:
        return Path(path).read_bytes().strip()
    key = os.environ.get("CARAVAN_CLUSTER_KEY", "")
    if not key:
        raise SystemExit("kvnode: a cluster key is required: set CARAVAN_CLUSTER_KEY or --cluster-key-file")
    return key.encode()


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m agents.server.kvnode", description=__doc__.split("\n")[0])
    parser.add_argument("--id", required=True)
    parser.add_argument("--peers", required=True, help="id=host:port,... for every founding server, this one too")
    parser.add_argument("--client-port", type=int, required=True)
    parser.add_argument("--client-host", default="127.0.0.1")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--cluster-key-file")
    parser.add_argument("--join", action="store_true", help="start empty and wait to be added by the leader")
    parser.add_argument("--tick-ms", type=int, default=_DEFAULTS.tick_ms)
    parser.add_argument("--election-ticks", type=int, default=_DEFAULTS.election_ticks)
    parser.add_argument("--snapshot-entries", type=int, default=_DEFAULTS.snapshot_entries)
    parser.add_argument("--keep-entries", type=int, default=_DEFAULTS.keep_entries)
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> int:
    peers = parse_peers(args.peers)
    if args.id not in peers:
        raise SystemExit(f"kvnode: --peers must include this server ({args.id})")
    try:
        config = RuntimeConfig(
            cluster_key=_cluster_key(args.cluster_key_file), tick_ms=args.tick_ms,
            election_ticks=args.election_ticks, snapshot_entries=args.snapshot_entries,
            keep_entries=args.keep_entries, bootstrap=not args.join,
        )
        store = KVStore()
        runtime = RaftRuntime(args.id, peers, Path(args.data_dir), store, config)
        await runtime.start()
    except (InvalidInput, WALError) as exc:
        raise SystemExit(f"kvnode: {exc}") from None
    server = KVServer(runtime, store)
    listener = await asyncio.start_server(server.serve, args.client_host, args.client_port, reuse_address=True)
    print(json.dumps({"event": "listening", "id": args.id, "client_port": args.client_port}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    assert runtime.done is not None
    runtime.done.add_done_callback(lambda _: stop.set())
    await stop.wait()
    failed = runtime.done.done() and runtime.done.exception() is not None
    listener.close()
    await runtime.stop()
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format=f"%(asctime)s {args.id} %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    sys.exit(main())
