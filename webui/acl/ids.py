"""Accessor IDs as callers write them (any UUID spelling) to UUIDs, or a clear error."""

from __future__ import annotations

import uuid

from cluster.errors import InvalidInput

__all__ = ["parse_accessor_id"]


def parse_accessor_id(accessor_id: str | uuid.UUID) -> uuid.UUID:
    if isinstance(accessor_id, uuid.UUID):
        return accessor_id
    try:
        return uuid.UUID(accessor_id)
    except ValueError:
        raise InvalidInput(f"invalid accessor ID {accessor_id[:64]!r}: expected a UUID") from None
