"""The garbage-collector policy of a process that holds the state store: a server agent, the
scheduler benchmark.

The state is large, long-lived and acyclic (msgspec structs in persistent maps), yet every write
creates thousands of container objects (map nodes, lists, dicts) that the cyclic collector would
scan again and again: with Python's default threshold (700) a million placements spend about a
fifth of their time in young-generation collections that free nothing. So:

- ``configure_for_server()`` once at start: a high generation-0 threshold, so collections run
  every few plans instead of every few hundred objects;
- ``settle_after_bulk_apply()`` after applying a batch of Raft entries (a plan result, a snapshot
  restore): moves everything that survived into the permanent generation (``gc.freeze``), which
  collections never scan again. Garbage is still freed by reference counting; only reference
  cycles created before a freeze stay until ``thaw_and_collect()`` (for tests and shutdown).

This module touches the process-wide ``gc`` settings and nothing else; it takes no clock, no I/O.
"""

from __future__ import annotations

import gc

__all__ = ["SERVER_GC_THRESHOLDS", "configure_for_server", "settle_after_bulk_apply", "thaw_and_collect"]

# (generation 0, generation 1, generation 2) thresholds. 100,000 new container objects between
# young collections: one plan of a count-1,000 job makes about 20,000.
SERVER_GC_THRESHOLDS = (100_000, 20, 20)


def configure_for_server(thresholds: tuple[int, int, int] = SERVER_GC_THRESHOLDS) -> tuple[int, int, int]:
    """Applies the server's thresholds; returns the previous ones (to restore in tests)."""
    assert thresholds[0] > 0, "a zero generation-0 threshold disables the collector"
    previous = gc.get_threshold()
    gc.set_threshold(*thresholds)
    return previous


def settle_after_bulk_apply() -> None:
    """Moves all objects alive now out of the collector's reach: the state just written is
    long-lived, and scanning it again would find nothing to free."""
    gc.freeze()


def thaw_and_collect() -> int:
    """Undoes the freezes and runs a full collection; returns the number of objects freed."""
    gc.unfreeze()
    return gc.collect()
