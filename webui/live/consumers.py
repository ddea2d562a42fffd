"""``LiveConsumer`` at ``/ws/events``: the dashboard's one WebSocket.

The browser sends (JSON):

    {"subscribe": ["Job:default/web", "Allocation:*"]}     # topic:key; key "ns/key", "key" or "*"
    {"unsubscribe": ["Allocation:*"]}
    {"stats": "<alloc id>"}                                # "" stops: CPU and memory every ~1.5 s
    {"logs": "<alloc id>", "task": "web", "type": "stderr"}  # "" stops: follows the task's log

and receives ``{"subscribed": [...]}``, ``{"event": {Topic, Type, Key, Namespace, Index, Payload}}``,
``{"stats": id, "usage": {...}}``, ``{"logs": id, "task", "type", "data": "<text>"}`` or
``{"error": "...", "for": ...}``.

Connecting: the Origin header must name an allowed host (``ALLOWED_HOSTS``) or a trusted origin
(``CSRF_TRUSTED_ORIGINS``), else the socket closes with 4403 (checked here too, not only by the router's
``AllowedHostsOriginValidator``, so the close code says why). The token is the dashboard session's
(``webui.ui.access``), or an ``X-Nomad-Token`` header from a non-browser client; never a URL parameter.
An unknown or expired token closes with 4401, at connect and later: the token is checked again every
``REAUTH_S``, so a revoked one stops its sockets within that time. Each subscription is checked against the token's ACL
(as ``/v1/event/stream``: Node events need node:read, ``*`` a management token, ``ns/key`` read-job in
that namespace), and every event is checked again against its own namespace before it is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import msgspec
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http.request import validate_host

from agents.client.rpc_endpoints import AllocResourceUsage, AllocStatsRequest, FsLogsRequest, FsLogsResponse
from agents.server.endpoints import (
    AllocSpecificRequest,
    NodeSpecificRequest,
    SingleAllocResponse,
    SingleNodeResponse,
)
from cluster.acl import ACL, NamespaceCapability
from cluster.errors import CaravanError, InvalidInput, NotFound, PermissionDenied, Unavailable
from webui import workflows
from webui.acl import authenticate
from webui.api.auth import PERMISSION_DENIED, acl_enabled
from webui.api.client_allocs import client_call
from webui.gateway import gateway
from webui.live.access import ALL, KNOWN_TOPICS, NODE_TOPICS, OPERATOR_TOPICS, event_allowed
from webui.live.relay import process_relay
from webui.models import Workflow
from webui.ui.access import SESSION_ACCESSOR_KEY, session_context

__all__ = ["CLOSE_BAD_ORIGIN", "CLOSE_BAD_TOKEN", "LiveConsumer", "origin_allowed"]

log = logging.getLogger(__name__)

WORKFLOW_TOPIC = "Workflow"
CLOSE_BAD_ORIGIN = 4403
CLOSE_BAD_TOKEN = 4401
MAX_SUBSCRIPTIONS = 100
STATS_INTERVAL_S = 1.5
LOG_TAIL_BYTES = 32 << 10
LOG_WAIT_MS = 3_000
CALL_TIMEOUT_S = 10.0
RETRY_S = 2.0
MAX_MESSAGE_CHARS = 64 << 10
REAUTH_S = 30.0


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether the handshake's Origin is this site's: an allowed host, or a trusted origin."""
    origin = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"origin"), "")
    if not origin:
        return False
    if origin in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return bool(validate_host(parts.hostname, settings.ALLOWED_HOSTS))


def _scope_acl(scope: dict[str, Any]) -> ACL | None:
    """The connection's ACL (None: enforcement off); PermissionDenied for an unknown or expired token."""
    if not acl_enabled():
        return None
    session = scope.get("session")
    if session is not None and session.get(SESSION_ACCESSOR_KEY):
        return session_context(session).acl
    secret = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-nomad-token"), None)
    return authenticate(secret or None).acl


def _parse(subscription: object) -> tuple[str, str | None, str]:
    """``"Job:default/web"`` to (topic, namespace or None, key)."""
    if not isinstance(subscription, str) or not subscription:
        raise InvalidInput("a subscription is a string such as \"Job:default/web\"")
    topic, _, key = subscription.partition(":")
    if topic not in KNOWN_TOPICS:
        raise InvalidInput(f'unknown event topic "{topic}"')
    key = key or ALL
    if topic in NODE_TOPICS or topic in OPERATOR_TOPICS or topic == ALL or key == ALL or "/" not in key:
        return topic, None, key
    namespace, _, key = key.partition("/")
    return topic, namespace or "default", key or ALL


def _check(acl: ACL | None, topic: str, namespace: str | None) -> None:
    if acl is None or acl.is_management:
        return
    if topic == ALL:
        allowed = False
    elif topic in NODE_TOPICS:
        allowed = acl.allow_node_read()
    elif topic in OPERATOR_TOPICS:
        allowed = acl.allow_operator_read()
    else:
        allowed = namespace is None or acl.allow_namespace_op(namespace, NamespaceCapability.READ_JOB)
    if not allowed:
        raise PermissionDenied(PERMISSION_DENIED)


class LiveConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """See the module docstring."""

    acl: ACL | None = None

    async def connect(self) -> None:
        self._subs: dict[str, tuple[str, set[str] | None]] = {}  # group -> (subscription, namespaces)
        self._sent: tuple[int, set[tuple[str, str, str]]] = (0, set())
        self._stats: asyncio.Task[None] | None = None
        self._logs: asyncio.Task[None] | None = None
        self._reauth: asyncio.Task[None] | None = None
        self._workflow_groups: set[str] = set()
        await self.accept()
        if not origin_allowed(self.scope):
            await self.close(code=CLOSE_BAD_ORIGIN)
            return
        try:
            self.acl = await database_sync_to_async(_scope_acl)(self.scope)
        except PermissionDenied:
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        self._reauth = asyncio.create_task(self._check_token_periodically())

    async def _check_token_periodically(self) -> None:
        """Closes the socket (4401) once its token is revoked or expired; keeps its ACL current."""
        while True:
            await asyncio.sleep(REAUTH_S)
            try:
                self.acl = await database_sync_to_async(_scope_acl)(self.scope)
            except PermissionDenied:
                await self.close(code=CLOSE_BAD_TOKEN)
                return

    async def disconnect(self, code: int) -> None:
        for task in (getattr(self, "_stats", None), getattr(self, "_logs", None), getattr(self, "_reauth", None)):
            if task is not None:
                task.cancel()
        if getattr(self, "_subs", None):
            await process_relay().leave_all(self.channel_name)
        for group in getattr(self, "_workflow_groups", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        """JSON text frames only; anything else is answered with an error, not a crash of the socket."""
        if text_data is None or len(text_data) > MAX_MESSAGE_CHARS:
            await self.send_json({"error": f"messages are JSON text of at most {MAX_MESSAGE_CHARS} characters"})
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_json({"error": "messages are JSON objects"})
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"error": "messages are JSON objects"})
            return
        if "subscribe" in content:
            await self._subscribe(content["subscribe"])
        if "unsubscribe" in content:
            await self._unsubscribe(content["unsubscribe"])
        if "stats" in content:
            await self._start_stats(content["stats"])
        if "logs" in content:
            await self._start_logs(content)

    # ---- events -------------------------------------------------------------------------------

    async def _subscribe(self, subscriptions: Any) -> None:
        if not isinstance(subscriptions, list):
            subscriptions = [subscriptions]
        done: list[str] = []
        for subscription in subscriptions:
            if isinstance(subscription, str) and subscription.startswith(WORKFLOW_TOPIC + ":"):
                if await self._subscribe_workflow(subscription):
                    done.append(subscription)
                continue
            try:
                topic, namespace, key = _parse(subscription)
                _check(self.acl, topic, namespace)
                if len(self._subs) >= MAX_SUBSCRIPTIONS:
                    raise InvalidInput(f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
            except CaravanError as e:
                await self.send_json({"error": str(e), "for": subscription})
                continue
            group = await process_relay().join(topic, key, self.channel_name)
            previous = self._subs.get(group)
            if namespace is None or (previous is not None and previous[1] is None):
                namespaces = None
            else:
                namespaces = (previous[1] if previous is not None and previous[1] is not None else set()) | {namespace}
            self._subs[group] = (str(subscription), namespaces)
            done.append(str(subscription))
        await self.send_json({"subscribed": done})

    async def _unsubscribe(self, subscriptions: Any) -> None:
        if not isinstance(subscriptions, list):
            subscriptions = [subscriptions]
        relay = process_relay()
        for subscription in subscriptions:
            with contextlib.suppress(CaravanError):
                topic, _, key = _parse(subscription)
                group = relay.group(topic, key)
                if self._subs.pop(group, None) is not None:
                    await relay.leave(group, self.channel_name)
        await self.send_json({"unsubscribed": [s for s in subscriptions if isinstance(s, str)]})

    async def live_event(self, message: dict[str, Any]) -> None:
        """A relayed event: sent once, if a subscription still wants it and the token may see it."""
        event: dict[str, Any] = message["event"]
        sub = self._subs.get(message["group"])
        namespace = event.get("Namespace") or ""
        if sub is None or (sub[1] is not None and namespace not in sub[1]):
            return
        if not event_allowed(self.acl, event["Topic"], namespace):
            return
        index, seen = self._sent
        identity = (event["Topic"], event["Key"], event["Type"])
        if event["Index"] != index:
            index, seen = event["Index"], set()
        elif identity in seen:
            return  # reached this connection through two of its subscriptions
        seen.add(identity)
        self._sent = (index, seen)
        await self.send_json({"event": event})

    # ---- workflows (webui.workflows: progress of Celery workflows, not server events) ----------

    async def _subscribe_workflow(self, subscription: str) -> bool:
        """``Workflow:<id>`` (one workflow the token may see) or ``Workflow:*`` (each change checked)."""
        key = subscription.partition(":")[2]
        if key == ALL:
            group = workflows.ALL_WORKFLOWS_GROUP
        else:
            try:
                visible = await database_sync_to_async(self._workflow_visible_by_id)(key)
            except (ValueError, ValidationError):
                visible = False
            if not visible:
                await self.send_json({"error": f"workflow {key[:64]!r} not found", "for": subscription})
                return False
            group = workflows.group_name(key)
        await self.channel_layer.group_add(group, self.channel_name)
        self._workflow_groups.add(group)
        return True

    def _workflow_visible_by_id(self, workflow_id: str) -> bool:
        wf = Workflow.objects.filter(id=workflow_id).first()
        return wf is not None and workflows.workflow_allowed(self.acl, wf.kind, wf.namespace)

    async def workflow_changed(self, message: dict[str, Any]) -> None:
        """A workflow's progress: sent as an event of topic ``Workflow`` so live.js refreshes its region."""
        if not workflows.workflow_allowed(self.acl, message["kind"], message["namespace"]):
            return
        await self.send_json({"event": {"Topic": WORKFLOW_TOPIC, "Type": "WorkflowChanged", "Key": message["id"],
                                        "Namespace": "", "Index": 0,
                                        "Payload": {k: message[k] for k in ("status", "done", "total")}}})

    # ---- allocation stats and logs ------------------------------------------------------------

    async def _alloc_address(self, alloc_id: Any, capability: str) -> tuple[str, str]:
        """The allocation's namespace-checked ID and its client's address."""
        if not isinstance(alloc_id, str) or not alloc_id:
            raise InvalidInput("an allocation ID is required")
        reply = await gateway().call("Alloc.Get", AllocSpecificRequest(AllocID=alloc_id), SingleAllocResponse)
        if self.acl is not None and not self.acl.allow_namespace_op(
                reply.Alloc.Namespace if reply.Alloc is not None else "default", capability):
            raise PermissionDenied(PERMISSION_DENIED)
        if reply.Alloc is None:
            raise NotFound("Unknown allocation")
        node = (await gateway().call("Node.Get", NodeSpecificRequest(NodeID=reply.Alloc.NodeID),
                                     SingleNodeResponse)).Node
        if node is None or not node.HTTPAddr:
            raise Unavailable(f"the client of allocation {alloc_id} cannot be reached")
        return reply.Alloc.ID, node.HTTPAddr

    async def _start_stats(self, alloc_id: Any) -> None:
        if self._stats is not None:
            self._stats.cancel()
            self._stats = None
        if not alloc_id:
            return
        try:
            alloc, address = await self._alloc_address(alloc_id, NamespaceCapability.READ_JOB)
        except CaravanError as e:
            await self.send_json({"error": str(e), "for": {"stats": alloc_id}})
            return
        self._stats = asyncio.create_task(self._poll_stats(alloc, address))

    async def _poll_stats(self, alloc_id: str, address: str) -> None:
        while True:
            try:
                usage = await client_call(address, "ClientAllocations.Stats", AllocStatsRequest(AllocID=alloc_id),
                                          AllocResourceUsage, timeout_s=CALL_TIMEOUT_S)
            except NotFound as e:
                await self.send_json({"error": str(e), "for": {"stats": alloc_id}})
                return
            except CaravanError as e:
                await self.send_json({"error": str(e), "for": {"stats": alloc_id}})
                await asyncio.sleep(RETRY_S)
                continue
            await self.send_json({"stats": alloc_id, "usage": msgspec.to_builtins(usage)})
            await asyncio.sleep(STATS_INTERVAL_S)

    async def _start_logs(self, content: dict[str, Any]) -> None:
        if self._logs is not None:
            self._logs.cancel()
            self._logs = None
        alloc_id, task, kind = content.get("logs"), content.get("task"), content.get("type", "stdout")
        if not alloc_id:
            return
        try:
            if not isinstance(task, str) or not task:
                raise InvalidInput("logs: a task name is required")
            if kind not in ("stdout", "stderr"):
                raise InvalidInput('logs: type is "stdout" or "stderr"')
            alloc, address = await self._alloc_address(alloc_id, NamespaceCapability.READ_LOGS)
        except CaravanError as e:
            await self.send_json({"error": str(e), "for": {"logs": alloc_id}})
            return
        first = FsLogsRequest(AllocID=alloc, Task=task, LogType=kind, Origin="end", Offset=LOG_TAIL_BYTES)
        self._logs = asyncio.create_task(self._follow_logs(address, first))

    async def _follow_logs(self, address: str, args: FsLogsRequest) -> None:
        """Sends the log's tail, then new text as it is written, until the task is dead and drained."""
        head = {"logs": args.AllocID, "task": args.Task, "type": args.LogType}
        while True:
            try:
                chunk = await client_call(address, "FileSystem.Logs", args, FsLogsResponse,
                                          timeout_s=CALL_TIMEOUT_S + args.WaitMs / 1000)
            except CaravanError as e:
                await self.send_json({"error": str(e), "for": head})
                return
            if chunk.Data:
                await self.send_json({**head, "data": chunk.Data.decode("utf-8", errors="replace")})
            elif chunk.TaskDead:
                await self.send_json({**head, "done": True})
                return
            args = msgspec.structs.replace(args, File=chunk.File, Offset=chunk.Offset, Origin="start",
                                           WaitMs=LOG_WAIT_MS)
