"""The Wing–Gong checker itself: it must accept linearizable histories and reject the others."""

from __future__ import annotations

import time

from tests.sim.kv import Op
from tests.sim.linearizability import Operation, Register, check_history, check_operations


def put(client: str, value: str, called: int, returned: int | None, key: str = "x") -> Operation:
    return Operation(client, Op.PUT, key, value=value, called=called, returned=returned)


def get(client: str, output: str | None, called: int, returned: int | None, key: str = "x") -> Operation:
    return Operation(client, Op.GET, key, output=output, called=called, returned=returned)


def cas(client: str, expected: str | None, value: str, output: bool, called: int, returned: int | None) -> Operation:
    return Operation(client, Op.CAS, "x", value=value, expected=expected, output=output, called=called,
                     returned=returned)


def test_a_sequential_history_is_linearizable() -> None:
    ops = [put("a", "1", 1, 2), get("a", "1", 3, 4), cas("a", "1", "2", True, 5, 6), get("a", "2", 7, 8)]
    assert check_operations(ops, Register())


def test_a_read_overlapping_a_write_may_see_either_value() -> None:
    for seen in (None, "1"):
        assert check_operations([put("a", "1", 1, 4), get("b", seen, 2, 3)], Register())


def test_a_read_after_a_completed_write_must_see_it() -> None:
    """The stale read a deposed leader would serve: the write returned before the read was called."""
    ops = [put("a", "1", 1, 2), put("a", "2", 3, 4), get("b", "1", 5, 6)]
    assert not check_operations(ops, Register())


def test_reads_cannot_go_back_in_time() -> None:
    """Two sequential reads during a long write: once one saw the new value, later ones must too."""
    ops = [put("a", "1", 1, 10), get("b", "1", 2, 3), get("c", None, 4, 5)]
    assert not check_operations(ops, Register())


def test_a_value_nobody_wrote_is_never_linearizable() -> None:
    assert not check_operations([put("a", "1", 1, 2), get("b", "9", 3, 4)], Register())


def test_compare_and_set_results_must_match_the_state() -> None:
    assert not check_operations([put("a", "1", 1, 2), cas("b", "1", "2", False, 3, 4)], Register())
    assert check_operations([put("a", "1", 1, 2), cas("b", "0", "2", False, 3, 4)], Register())


def test_an_unanswered_write_may_have_happened_or_not() -> None:
    took_effect = [put("a", "1", 1, None), get("b", "1", 5, 6)]
    never_did = [put("a", "1", 1, None), get("b", None, 5, 6)]
    assert check_operations(took_effect, Register())
    assert check_operations(never_did, Register())
    flip_flop = [put("a", "1", 1, None), get("b", "1", 5, 6), get("b", None, 7, 8)]
    assert not check_operations(flip_flop, Register())


def test_keys_are_checked_independently() -> None:
    ops = [put("a", "1", 1, 2, key="x"), get("b", "1", 3, 4, key="x"), put("a", "2", 5, 6, key="y"),
           get("b", None, 7, 8, key="y")]
    assert check_history(ops) == ["y"]


def test_memoization_keeps_a_wide_concurrent_history_fast() -> None:
    """Nine overlapping writes and eight reads: without memoization the search would try the writes'
    orders (9! of them) before giving up on the impossible last read."""
    ops = [put(f"w{i}", str(i), i, 100 + i) for i in range(9)]
    ops += [get(f"r{i}", "8", 200 + 2 * i, 201 + 2 * i) for i in range(4)]
    ops += [get(f"s{i}", None, 50, 60 + i) for i in range(4)]
    started = time.perf_counter()
    assert check_operations(ops, Register())
    assert not check_operations([*ops, get("late", "3", 300, 301)], Register())
    assert time.perf_counter() - started < 1.0
