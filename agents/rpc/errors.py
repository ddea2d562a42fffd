"""The RPC layer's own errors, and how every Caravan error travels over a connection.

A handler raises an error from the ``cluster.errors`` tree; the server sends its class name, message and
extras (the diagnostics of a ``JobSpecError``, the leader hint of a ``NotLeader``) in an error frame, and
the caller's ``call`` raises the same class again. A class the wire does not know travels as its nearest
known base (a ``WALCorruption`` arrives as a ``CaravanError`` with the same message). An exception that is
not a ``CaravanError`` is a bug in the handler: the caller gets a ``RemoteError`` and the server logs it.
A handler's own ``ConnectionFailed`` or ``ConnectionLost`` (from a call it made in turn) arrives as
``Unavailable``: those two always describe the caller's own connection.

The errors this package adds::

    CaravanError
    ├── InvalidInput
    │   └── FrameTooLarge         a frame over the size limit; an incoming one closes the connection
    ├── NotFound
    │   └── UnknownMethod         the server has no endpoint of that name
    ├── PermissionDenied
    │   └── AuthenticationFailed  the handshake failed: wrong cluster key, certificate lacks the role
    ├── Unavailable
    │   ├── NotLeader             the request needs the leader, none is known (``leader``: hint or "")
    │   ├── ConnectionFailed      the request never reached a handler (no connection, refused, or the
    │   │                         server closed the connection before reading it): retrying is safe
    │   ├── ConnectionLost        the connection broke with the request in flight: it may have run
    │   └── RPCTimeout            no answer within the timeout (the server was told to cancel it)
    ├── ProtocolError             the other end broke the protocol (a malformed frame or handshake)
    └── RemoteError               the handler failed unexpectedly (a bug; the server logged it)
"""

from __future__ import annotations

import msgspec

from cluster.errors import (
    CaravanError,
    Conflict,
    Diagnostic,
    InvalidInput,
    JobSpecError,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from cluster.jobspec.hcl import HCLError

__all__ = [
    "AuthenticationFailed",
    "ConnectionFailed",
    "ConnectionLost",
    "ErrorBody",
    "FrameTooLarge",
    "NotLeader",
    "ProtocolError",
    "RPCTimeout",
    "RemoteError",
    "UnknownMethod",
    "error_from_wire",
    "error_to_wire",
]


class FrameTooLarge(InvalidInput):
    """A frame is over the size limit. Sending one is refused before anything leaves; receiving one
    closes the connection, since the rest of the stream can no longer be trusted to line up."""


class UnknownMethod(NotFound):
    """The server has no endpoint of that name (a version mismatch or a typo in the caller)."""


class AuthenticationFailed(PermissionDenied):
    """The handshake failed: the other end does not hold the cluster key, or its certificate does not
    carry the role it claims. The connection is closed before any endpoint runs."""


class NotLeader(Unavailable):
    """The request must run on the leader and this server cannot get it there.

    ``leader`` is the leader's RPC address when known (the caller may go there directly), else "".
    """

    def __init__(self, message: str, leader: str = "") -> None:
        super().__init__(message)
        self.leader = leader


class ConnectionFailed(Unavailable):
    """The request never reached a handler: connecting failed, the server refused the connection (for
    example at its connection limit), or it closed the connection before reading the request."""


class ConnectionLost(Unavailable):
    """The connection broke while the request was in flight: the handler may or may not have run."""


class RPCTimeout(Unavailable):
    """No answer within the timeout. The server was asked to cancel the handler; it may have run."""


class ProtocolError(CaravanError):
    """The other end sent something the protocol does not allow; the connection is closed."""


class RemoteError(CaravanError):
    """The handler failed with an unexpected error (a bug); the server's log has the traceback."""


class WireDiagnostic(msgspec.Struct, array_like=True, frozen=True):
    """A ``cluster.errors.Diagnostic`` on the wire."""

    message: str
    path: str = ""
    filename: str = ""
    line: int = 0
    column: int = 0


class ErrorBody(msgspec.Struct, array_like=True, frozen=True):
    """An error on the wire: the class name, the message, and the extras some classes carry."""

    kind: str
    message: str
    leader: str = ""
    diagnostics: list[WireDiagnostic] = msgspec.field(default_factory=list)


# The classes that travel by name; anything else travels as its nearest base in this table.
_KNOWN: dict[str, type[CaravanError]] = {
    cls.__name__: cls
    for cls in (
        CaravanError,
        InvalidInput,
        JobSpecError,
        HCLError,
        NotFound,
        Conflict,
        PermissionDenied,
        Unavailable,
        FrameTooLarge,
        UnknownMethod,
        AuthenticationFailed,
        NotLeader,
        ConnectionFailed,
        ConnectionLost,
        RPCTimeout,
        ProtocolError,
        RemoteError,
    )
}


def error_to_wire(error: CaravanError) -> ErrorBody:
    """The wire form of ``error``: its own class name if known, else its nearest known base's."""
    kind = next(cls.__name__ for cls in type(error).__mro__ if _KNOWN.get(cls.__name__) is cls)
    diagnostics: list[Diagnostic] = list(getattr(error, "diagnostics", None) or [])
    return ErrorBody(
        kind=kind,
        message=str(error),
        leader=error.leader if isinstance(error, NotLeader) else "",
        diagnostics=[WireDiagnostic(d.message, d.path, d.filename, d.line, d.column) for d in diagnostics],
    )


def error_from_wire(body: ErrorBody) -> CaravanError:
    """The exception ``body`` describes, as the class the handler raised (or its nearest known base)."""
    diagnostics = [Diagnostic(d.message, d.path, d.filename, d.line, d.column) for d in body.diagnostics]
    cls = _KNOWN.get(body.kind, CaravanError)
    if cls is JobSpecError and diagnostics:
        return JobSpecError(diagnostics)
    if cls is HCLError and diagnostics:
        return HCLError(diagnostics)
    if cls in (JobSpecError, HCLError):
        return InvalidInput(body.message)
    if cls is NotLeader:
        return NotLeader(body.message, body.leader)
    return cls(body.message)
