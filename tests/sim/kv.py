"""A small key-value state machine replicated by the simulated cluster: put, compare-and-set, get.

Every command carries a unique ``op_id``; the machine remembers which it applied, so the simulator
can check that an acknowledged write is on every node and that no write is ever applied twice.
"""

from __future__ import annotations

import enum

import msgspec


class Op(enum.IntEnum):
    PUT = 0
    CAS = 1
    GET = 2  # reads never enter the log (they go through ReadIndex); listed for histories


class Command(msgspec.Struct, array_like=True, frozen=True):
    op: Op
    op_id: int
    key: str = ""
    value: str = ""
    expected: str | None = None


class _Image(msgspec.Struct, array_like=True):
    data: dict[str, str]
    applied_ops: list[int]


_encoder = msgspec.msgpack.Encoder()
_command_decoder = msgspec.msgpack.Decoder(Command)
_image_decoder = msgspec.msgpack.Decoder(_Image)


def encode_command(command: Command) -> bytes:
    return _encoder.encode(command)


class KeyValue:
    """The replicated state: a dict of strings plus the ids of the commands applied so far."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.applied_ops: set[int] = set()

    def apply(self, payload: bytes) -> tuple[int, object]:
        """Apply one committed command; returns its op id and its result (None for put, bool for cas)."""
        command = _command_decoder.decode(payload)
        assert command.op_id not in self.applied_ops, f"op {command.op_id} applied twice"
        self.applied_ops.add(command.op_id)
        if command.op == Op.PUT:
            self.data[command.key] = command.value
            return command.op_id, None
        assert command.op == Op.CAS, f"unexpected command {command.op}"
        if self.data.get(command.key) == command.expected:
            self.data[command.key] = command.value
            return command.op_id, True
        return command.op_id, False

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def snapshot(self) -> bytes:
        return _encoder.encode(_Image(data=self.data, applied_ops=sorted(self.applied_ops)))

    def restore(self, image: bytes) -> None:
        """Replace the state by a snapshot's; an empty image is the empty state (the bootstrap snapshot)."""
        if not image:
            self.data, self.applied_ops = {}, set()
            return
        decoded = _image_decoder.decode(image)
        self.data, self.applied_ops = dict(decoded.data), set(decoded.applied_ops)
