"""The two msgspec base classes every Caravan struct derives from, and time units.

``ApiStruct`` fixes the rules of Nomad's API JSON: keyword-only construction, and unknown fields
are an error (``forbid_unknown_fields``) so nothing a client sends is silently dropped. Defaults
are never omitted on encoding: Nomad prints every field, with ``null`` for an absent optional.

``HotStruct`` is the same with ``gc=False``, for the objects the scheduler builds and scans by the
thousand (nodes, allocations, resources, evaluations). They form trees, never reference cycles,
so the cyclic garbage collector need not track them; that keeps collections short on big states.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

__all__ = [
    "GO_ZERO_TIME",
    "HOUR_NS",
    "MILLISECOND_NS",
    "MINUTE_NS",
    "SECOND_NS",
    "ApiStruct",
    "HotStruct",
]

MILLISECOND_NS = 1_000_000
SECOND_NS = 1_000 * MILLISECOND_NS
MINUTE_NS = 60 * SECOND_NS
HOUR_NS = 60 * MINUTE_NS

# Go's zero ``time.Time``: what Nomad prints ("0001-01-01T00:00:00Z") for a time never set.
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


class ApiStruct(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A struct of Nomad's API: attribute names are the JSON keys, exactly as Nomad spells them."""


class HotStruct(ApiStruct, gc=False):
    """An ``ApiStruct`` the garbage collector does not track (it never takes part in a cycle)."""
