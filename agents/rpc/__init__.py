"""Caravan's RPC: msgpack frames over TCP (and mutual TLS), many concurrent requests per connection.

Servers offer named endpoints; callers (other servers, client agents, the web application) call them
through a pool that keeps one connection per server::

    registry = Registry()

    @registry.endpoint("Node.UpdateStatus", roles={Role.CLIENT, Role.SERVER})
    async def update_status(ctx: CallContext, args: UpdateStatusRequest) -> UpdateStatusResponse: ...

    server = RPCServer(registry, ServerAuth(name="s1", region="global", cluster_key=key))
    await server.start("0.0.0.0", 4647)

    pool = ConnectionPool(ClientAuth(role=Role.CLIENT, name="node-1", region="global", cluster_key=key))
    reply = await pool.call("10.0.0.5:4647", "Node.UpdateStatus", args, UpdateStatusResponse, timeout_s=5)

Modules: ``frames`` (the wire format), ``handshake`` and ``auth`` (roles, cluster key, certificates),
``tls`` (contexts from the agent's tls files), ``endpoints`` (registry, ``CallContext``), ``server`` and
``server_conn`` (serving), ``client`` (one connection), ``pool``, ``forward`` (to the leader or another
region), ``errors`` (the error tree and its wire form).
"""

from __future__ import annotations

from agents.rpc.auth import ClientAuth, Role, ServerAuth, certificate_roles, server_name
from agents.rpc.client import ClientOptions, Connection, split_host_port
from agents.rpc.endpoints import CallContext, Endpoint, Registry
from agents.rpc.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    ConnectionLost,
    FrameTooLarge,
    NotLeader,
    ProtocolError,
    RemoteError,
    RPCTimeout,
    UnknownMethod,
)
from agents.rpc.forward import Forwarder, Routes
from agents.rpc.frames import DEFAULT_MAX_FRAME_BYTES, PROTOCOL
from agents.rpc.pool import ConnectionPool
from agents.rpc.server import RPCServer
from agents.rpc.server_conn import ServerOptions
from agents.rpc.tls import TLSFileError, client_context, server_context

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "PROTOCOL",
    "AuthenticationFailed",
    "CallContext",
    "ClientAuth",
    "ClientOptions",
    "Connection",
    "ConnectionFailed",
    "ConnectionLost",
    "ConnectionPool",
    "Endpoint",
    "Forwarder",
    "FrameTooLarge",
    "NotLeader",
    "ProtocolError",
    "RPCServer",
    "RPCTimeout",
    "Registry",
    "RemoteError",
    "Role",
    "Routes",
    "ServerAuth",
    "ServerOptions",
    "TLSFileError",
    "UnknownMethod",
    "certificate_roles",
    "client_context",
    "server_context",
    "server_name",
    "split_host_port",
]
