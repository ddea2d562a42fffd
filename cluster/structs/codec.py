"""JSON in and out of Caravan's structs, in Nomad's API form.

Encoding never omits a field (Nomad prints every field, ``null`` for an absent optional) and
writes map keys sorted, as Go does, so the same value always encodes to the same bytes. Decoding
is strict: an unknown field or a wrong type raises ``msgspec.ValidationError`` whose message ends
with msgspec's path to the culprit (``... - at `$.TaskGroups[0].Tasks[0]` ``); malformed JSON
raises ``msgspec.DecodeError``. Both are ``msgspec.MsgspecError``; the callers that take client
input (the job file decoder, the HTTP API) turn them into ``JobSpecError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from cluster.structs.job import Job

__all__ = ["convert", "decode", "decode_job", "encode_json", "to_builtins"]

T = TypeVar("T")

_ENCODER = msgspec.json.Encoder(order="deterministic")


def encode_json(obj: Any) -> bytes:
    """Compact JSON of any struct (or of builtins holding structs)."""
    return _ENCODER.encode(obj)


def decode(data: bytes | str, type_: type[T]) -> T:
    """Strictly decodes JSON into ``type_`` (e.g. ``Node``, ``list[Allocation]``)."""
    return msgspec.json.decode(data, type=type_)


def decode_job(data: bytes | str | Mapping[str, Any]) -> Job:
    """A ``Job`` from its API JSON (the bare job object, not ``{"Job": ...}``), as bytes, text,
    or already-parsed builtins."""
    if isinstance(data, bytes | str):
        return msgspec.json.decode(data, type=Job)
    return msgspec.convert(data, Job)


def to_builtins(obj: Any) -> Any:
    """Dicts, lists, strings and numbers, exactly as the JSON encoding would have them."""
    return msgspec.to_builtins(obj, order="deterministic")


def convert(data: Any, type_: type[T]) -> T:
    """The inverse of ``to_builtins``: builtins (e.g. decoded JSON) into ``type_``, strictly."""
    return msgspec.convert(data, type_)
