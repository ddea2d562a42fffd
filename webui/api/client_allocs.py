"""/v1/client/...: what Nomad's client agents serve (allocation stats, restart, signal, logs, files, host
stats), answered by calling the client agent that runs the allocation.

The web application finds the client through the allocation's node: its ``HTTPAddr`` is, in Caravan, the
client's RPC address (a dev agent's one port), and the call goes there with the gateway's pool in the
``web`` role. ACL as Nomad's: stats need ``read-job``, restart and signal ``alloc-lifecycle``, logs
``read-logs``, files ``read-fs`` (in the allocation's namespace), host stats ``node:read``. The check is
made before a 404, so a token without rights learns nothing about which allocations exist.

Logs (``/v1/client/fs/logs/:alloc``) come, as Nomad's do, as a stream of JSON frames ``{"Data": base64,
"File", "Offset"}`` or, with ``plain=true``, as the bytes alone. Without ``follow`` the answer holds what
the files hold now. With ``follow=true`` it is a streaming response over an async iterator: each step is
one ``FileSystem.Logs`` call that waits a few seconds for new bytes; an empty wait sends a heartbeat
frame ``{}``; the stream ends when the task is dead and its files are drained, or when the client (of
the HTTP request) goes away, which cancels the iterator under ASGI.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import msgspec
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from agents.client.rpc_endpoints import (
    AllocResourceUsage,
    AllocRestartRequest,
    AllocSignalRequest,
    AllocStatsRequest,
    ClientStatsRequest,
    ClientStatsResponse,
    Empty,
    FsCatRequest,
    FsCatResponse,
    FsListRequest,
    FsListResponse,
    FsLogsRequest,
    FsLogsResponse,
    FsStatRequest,
    FsStatResponse,
)
from agents.server.endpoints import (
    AllocSpecificRequest,
    NodeListRequest,
    NodeListResponse,
    NodeSpecificRequest,
    SingleAllocResponse,
    SingleNodeResponse,
)
from cluster.acl import NamespaceCapability
from cluster.errors import CaravanError, InvalidInput, NotFound, Unavailable
from cluster.structs import Allocation
from webui.api.allocs_nodes import require_node_read
from webui.api.auth import require_namespace_op
from webui.api.http import api_view, async_api_view, json_response, read_json
from webui.gateway import gateway

__all__ = ["alloc_restart", "alloc_signal", "alloc_stats", "client_stats", "fs_cat", "fs_logs", "fs_ls",
           "fs_readat", "fs_stat"]

R = TypeVar("R", bound=msgspec.Struct)

CALL_TIMEOUT_S = 10.0
FOLLOW_WAIT_MS = 3_000
_TRUE = frozenset({"1", "true", "yes", "on"})


# ---- reaching the client ------------------------------------------------------------------------


def client_call_sync(address: str, method: str, args: msgspec.Struct, result_type: type[R],
                     timeout_s: float = CALL_TIMEOUT_S) -> R:
    """``method`` on the client agent at ``address`` (the gateway's pool and credentials, no failover)."""
    return gateway().call_at_sync(address, method, args, result_type, timeout_s=timeout_s)


async def client_call(address: str, method: str, args: msgspec.Struct, result_type: type[R],
                      timeout_s: float = CALL_TIMEOUT_S) -> R:
    return await gateway().call_at(address, method, args, result_type, timeout_s=timeout_s)


def alloc_and_address(request: HttpRequest, alloc_id: str, capability: str) -> tuple[Allocation, str]:
    """The allocation (after the token's ``capability`` in its namespace is checked) and its client's address."""
    reply = gateway().call_sync("Alloc.Get", AllocSpecificRequest(AllocID=alloc_id), SingleAllocResponse)
    namespace = reply.Alloc.Namespace if reply.Alloc is not None else request.GET.get("namespace", "default")
    require_namespace_op(request, namespace or "default", capability)
    if reply.Alloc is None:
        raise NotFound("Unknown allocation")
    return reply.Alloc, node_address(reply.Alloc.NodeID)


def node_address(node_id: str) -> str:
    node = gateway().call_sync("Node.Get", NodeSpecificRequest(NodeID=node_id), SingleNodeResponse).Node
    if node is None:
        raise NotFound(f"Unknown node {node_id}")
    if not node.HTTPAddr:
        raise Unavailable(f"node {node_id} has no address to reach its client at")
    return node.HTTPAddr


def _flag(request: HttpRequest, name: str) -> bool:
    return request.GET.get(name, "").strip().lower() in _TRUE


def _int(request: HttpRequest, name: str, default: int = 0) -> int:
    raw = request.GET.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, not {raw!r}") from None


# ---- allocations ------------------------------------------------------------------------------


@api_view("GET")
def alloc_stats(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """GET /v1/client/allocation/:id/stats: per-task and summed CPU and memory usage."""
    alloc, address = alloc_and_address(request, alloc_id, NamespaceCapability.READ_JOB)
    return json_response(client_call_sync(address, "ClientAllocations.Stats", AllocStatsRequest(
        AllocID=alloc.ID, Task=request.GET.get("task", "")), AllocResourceUsage))


def _body(request: HttpRequest) -> dict[str, Any]:
    return read_json(request) if request.body.strip() else {}


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    return value or ""


@api_view("POST", "PUT")
def alloc_restart(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """POST|PUT /v1/client/allocation/:id/restart ``{"TaskName", "AllTasks"}``: no task restarts them all."""
    alloc, address = alloc_and_address(request, alloc_id, NamespaceCapability.ALLOC_LIFECYCLE)
    body = _body(request)  # after the ACL check: a refused caller learns nothing from validation
    args = AllocRestartRequest(AllocID=alloc.ID, TaskName=_text(body, "TaskName"),
                               AllTasks=bool(body.get("AllTasks")))
    client_call_sync(address, "ClientAllocations.Restart", args, Empty)
    return json_response({})


@api_view("POST", "PUT")
def alloc_signal(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """POST|PUT /v1/client/allocation/:id/signal ``{"Task", "Signal"}``: no task signals them all."""
    alloc, address = alloc_and_address(request, alloc_id, NamespaceCapability.ALLOC_LIFECYCLE)
    body = _body(request)  # after the ACL check: a refused caller learns nothing from validation
    args = AllocSignalRequest(AllocID=alloc.ID, Task=_text(body, "Task"), Signal=_text(body, "Signal"))
    client_call_sync(address, "ClientAllocations.Signal", args, Empty)
    return json_response({})


# ---- files ------------------------------------------------------------------------------------


@api_view("GET")
def fs_ls(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """GET /v1/client/fs/ls/:alloc?path=: the directory's AllocFileInfos."""
    alloc, address = alloc_and_address(request, alloc_id, NamespaceCapability.READ_FS)
    args = FsListRequest(AllocID=alloc.ID, Path=request.GET.get("path", "/") or "/")
    return json_response(client_call_sync(address, "FileSystem.List", args, FsListResponse).Files)


@api_view("GET")
def fs_stat(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """GET /v1/client/fs/stat/:alloc?path=: one AllocFileInfo."""
    alloc, address = alloc_and_address(request, alloc_id, NamespaceCapability.READ_FS)
    args = FsStatRequest(AllocID=alloc.ID, Path=request.GET.get("path", "/") or "/")
    return json_response(client_call_sync(address, "FileSystem.Stat", args, FsStatResponse).Info)


def _cat(request: HttpRequest, alloc_id: str, offset: int, limit: int | None) -> bytes:
    """The file's bytes from ``offset``: ``limit`` of them, or (None) all, a chunk per call."""
    alloc, address = alloc_and_address(request, alloc_id, NamespaceCapability.READ_FS)
    path = request.GET.get("path", "")
    if not path:
        raise InvalidInput("must provide a file path")
    out = bytearray()
    while limit is None or len(out) < limit:
        want = 1 << 20 if limit is None else min(1 << 20, limit - len(out))
        reply = client_call_sync(address, "FileSystem.Cat", FsCatRequest(
            AllocID=alloc.ID, Path=path, Offset=offset + len(out), Limit=want), FsCatResponse)
        out += reply.Data
        if len(reply.Data) < want:
            break
    return bytes(out)


@api_view("GET")
def fs_cat(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """GET /v1/client/fs/cat/:alloc?path=: the file's contents."""
    return HttpResponse(_cat(request, alloc_id, 0, None), content_type="text/plain")


@api_view("GET")
def fs_readat(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """GET /v1/client/fs/readat/:alloc?path=&offset=&limit=: part of the file."""
    offset, limit = _int(request, "offset"), _int(request, "limit", 1 << 20)
    if offset < 0 or limit < 0:
        raise InvalidInput("offset and limit must not be negative")
    return HttpResponse(_cat(request, alloc_id, offset, limit), content_type="text/plain")


# ---- host -------------------------------------------------------------------------------------


@api_view("GET")
def client_stats(request: HttpRequest) -> HttpResponse:
    """GET /v1/client/stats?node_id=: the host's CPU, memory and disks (the only node when none is named)."""
    require_node_read(request)
    node_id = request.GET.get("node_id", "")

    if not node_id:
        nodes = gateway().call_sync("Node.List", NodeListRequest(), NodeListResponse).Nodes
        if len(nodes) != 1:
            raise InvalidInput("missing node_id: this web application serves more than one client")
        node_id = nodes[0].ID
    reply = client_call_sync(node_address(node_id), "ClientStats.Stats", ClientStatsRequest(NodeID=node_id),
                             ClientStatsResponse)
    return json_response(reply.HostStats)


# ---- logs -------------------------------------------------------------------------------------


def _frame(chunk: FsLogsResponse, plain: bool) -> bytes:
    if plain:
        return chunk.Data
    return msgspec.json.encode({"Data": base64.b64encode(chunk.Data).decode(), "File": f"alloc/logs/{chunk.File}",
                                "Offset": chunk.Offset})


@async_api_view("GET")
async def fs_logs(request: HttpRequest, alloc_id: str) -> HttpResponse:
    """GET /v1/client/fs/logs/:alloc?task=&type=&follow=&offset=&origin=&plain=."""
    task, kind = request.GET.get("task", ""), request.GET.get("type", "")
    if not task:
        raise InvalidInput("must include task name")
    if kind not in ("stdout", "stderr"):
        raise InvalidInput("must include type stdout or stderr")
    origin = request.GET.get("origin", "start") or "start"
    if origin not in ("start", "end"):
        raise InvalidInput('origin must be "start" or "end"')
    offset = _int(request, "offset")
    follow, plain = _flag(request, "follow"), _flag(request, "plain")
    alloc, address = await sync_to_async(alloc_and_address)(request, alloc_id, NamespaceCapability.READ_LOGS)
    first = FsLogsRequest(AllocID=alloc.ID, Task=task, LogType=kind, Origin=origin, Offset=offset)
    chunk = await client_call(address, "FileSystem.Logs", first, FsLogsResponse)  # errors answer here
    content_type = "text/plain; charset=utf-8" if plain else "application/json"
    if not follow:
        body = bytearray()
        async for part in _chunks(address, first, chunk, wait_ms=0):
            body += _frame(part, plain)
        return HttpResponse(bytes(body), content_type=content_type)
    return StreamingHttpResponse(_follow(address, first, chunk, plain), content_type=content_type)


async def _chunks(address: str, first: FsLogsRequest, chunk: FsLogsResponse, wait_ms: int
                  ) -> AsyncIterator[FsLogsResponse]:
    """Chunks from ``chunk`` on: until the files are drained (``wait_ms`` 0), or for as long as the
    task lives (each call waiting up to ``wait_ms``; empty chunks are the heartbeats)."""
    while True:
        if chunk.Data or wait_ms:
            yield chunk
        if not chunk.Data and (wait_ms == 0 or chunk.TaskDead):
            return
        args = msgspec.structs.replace(first, File=chunk.File, Offset=chunk.Offset, WaitMs=wait_ms)
        chunk = await client_call(address, "FileSystem.Logs", args, FsLogsResponse,
                                  timeout_s=CALL_TIMEOUT_S + wait_ms / 1000)


async def _follow(address: str, first: FsLogsRequest, chunk: FsLogsResponse, plain: bool) -> AsyncIterator[bytes]:
    try:
        async for part in _chunks(address, first, chunk, wait_ms=FOLLOW_WAIT_MS):
            if part.Data:
                yield _frame(part, plain)
            elif not plain:
                yield b"{}"  # Nomad's heartbeat frame: the connection is alive, nothing new yet
    except CaravanError as e:  # the client went away mid-stream: the stream ends, as Nomad's does
        if not plain:
            yield msgspec.json.encode({"Error": str(e)})
