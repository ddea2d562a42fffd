"""The pure parts of the list and register endpoints: pages, filters, check-index and per-job locks.

What a user notices: pages never skip or repeat an item and say where the next one starts; a filter is
applied before paging so pages are full; check-index refuses with Nomad's words; registers of one job
wait for each other while other jobs' go on.
"""

from __future__ import annotations

import asyncio

import pytest

from agents.server.endpoints_writes import KeyedLocks, check_job_index
from agents.server.listing import alloc_stubs, page, page_by_id
from cluster.errors import Conflict, InvalidInput
from cluster.structs.alloc import Allocation
from cluster.structs.job import Job


def alloc(alloc_id: str, create_index: int, job_id: str = "web") -> Allocation:
    return Allocation(ID=alloc_id, EvalID="e", Name=f"{job_id}.g[0]", Namespace="default", NodeID="n1",
                      JobID=job_id, TaskGroup="g", CreateIndex=create_index, ModifyIndex=create_index)


def test_pages_by_id_cover_every_item_once_in_order() -> None:
    ids = ["c", "a", "e", "b", "d"]
    seen: list[str] = []
    token = ""
    while True:
        listed, token = page_by_id(ids, lambda x: x, 2, token)
        seen += listed
        if not token:
            break
        assert token == sorted(ids)[len(seen)]  # the next page's first ID
    assert seen == sorted(ids)
    assert page_by_id(ids, lambda x: x, 0, "") == (sorted(ids), "")
    assert page_by_id(ids, lambda x: x, 2, "bb") == (["c", "d"], "e")  # a token between IDs starts after it
    with pytest.raises(InvalidInput, match="per_page"):
        page_by_id(ids, lambda x: x, -1, "")


def test_pages_by_create_index_are_stable_while_items_are_added() -> None:
    items = [(i, f"id-{i}") for i in range(1, 6)]
    first, token = page(items, lambda x: x, 2, "")
    assert (first, token) == (items[:2], "3.id-3")
    newer = [*items, (9, "id-9")]
    second, token = page(newer, lambda x: x, 2, token)
    assert (second, token) == (items[2:4], "5.id-5")
    with pytest.raises(InvalidInput, match="next_token"):
        page(items, lambda x: x, 2, "garbage")


def test_alloc_stubs_are_in_creation_order_and_filtered_before_paging() -> None:
    allocs = [alloc("b", 3), alloc("a", 3), alloc("c", 1, job_id="other"), alloc("d", 2)]
    assert [s.ID for s in alloc_stubs(allocs)] == ["c", "d", "a", "b"]
    web = alloc_stubs(allocs, 'JobID == "web"')
    assert [s.ID for s in web] == ["d", "a", "b"]
    listed, token = page(web, lambda s: (s.CreateIndex, s.ID), 2, "")
    assert [s.ID for s in listed] == ["d", "a"] and token == "3.b"
    with pytest.raises(InvalidInput):
        alloc_stubs(allocs, "JobID ==")


def test_check_index_speaks_nomads_words() -> None:
    check_job_index(None, 0)
    with pytest.raises(Conflict, match=r"^Enforcing job modify index 4: job does not exist$"):
        check_job_index(None, 4)
    stored = Job(ID="web", JobModifyIndex=12)
    check_job_index(stored, 12)
    with pytest.raises(Conflict, match=r"^Enforcing job modify index 0: job already exists$"):
        check_job_index(stored, 0)
    with pytest.raises(Conflict, match=r"^Enforcing job modify index 11: job exists with conflicting job "
                                       r"modify index: 12$"):
        check_job_index(stored, 11)


def test_keyed_locks_serialize_one_key_and_forget_it_afterwards() -> None:
    async def scenario() -> list[str]:
        locks = KeyedLocks()
        order: list[str] = []
        release = asyncio.Event()

        async def hold(key: str, name: str, wait: bool) -> None:
            async with locks.hold(key):
                order.append(f"{name} in")
                if wait:
                    await release.wait()
                order.append(f"{name} out")

        first = asyncio.create_task(hold("job-a", "first", wait=True))
        await asyncio.sleep(0)
        second = asyncio.create_task(hold("job-a", "second", wait=False))
        other = asyncio.create_task(hold("job-b", "other", wait=False))
        await other  # another job's register does not wait
        await asyncio.sleep(0)
        assert order == ["first in", "other in", "other out"]
        assert len(locks) == 1
        release.set()
        await asyncio.gather(first, second)
        assert len(locks) == 0
        return order

    assert asyncio.run(scenario())[3:] == ["first out", "second in", "second out"]
