"""Allocation IDs: version 4 UUIDs drawn from the injected random source, one draw per pass.

A pass of a thousand placements formats its IDs with numpy, a few placements with string
slicing; both must give exactly the UUIDs the standard library makes of the same random bits, so
that the same seed gives the same IDs whichever path ran.
"""

from __future__ import annotations

import random
import uuid

import pytest

from cluster.scheduler.context import new_uuid, new_uuids

MASK_128 = (1 << 128) - 1


def _reference(seed: int, n: int) -> list[str]:
    bits = random.Random(seed).getrandbits(128 * n)
    return [str(uuid.UUID(int=(bits >> (128 * (n - 1 - i))) & MASK_128, version=4)) for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 31, 32, 33, 1000])
def test_bulk_ids_are_the_standard_uuids_of_the_same_random_bits(n: int) -> None:
    for seed in range(5):
        assert new_uuids(random.Random(seed), n) == _reference(seed, n)


def test_ids_are_version_4_and_distinct() -> None:
    ids = new_uuids(random.Random(3), 5000)
    assert len(set(ids)) == 5000
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 for i in ids)


def test_one_id_matches_the_bulk_form() -> None:
    assert new_uuid(random.Random(9)) == new_uuids(random.Random(9), 1)[0]


def test_the_draw_advances_the_source_the_same_way_on_both_paths() -> None:
    """What follows the IDs (the node shuffle, the next pass) sees the same random stream."""
    short, bulk = random.Random(4), random.Random(4)
    new_uuids(short, 31)
    new_uuids(bulk, 32)
    reference = random.Random(4)
    reference.getrandbits(128 * 31)
    assert short.random() == reference.random()
    reference = random.Random(4)
    reference.getrandbits(128 * 32)
    assert bulk.random() == reference.random()


def test_no_ids_for_no_placements() -> None:
    assert new_uuids(random.Random(1), 0) == []
