"""A Wing–Gong linearizability checker with memoization (Lowe's refinement), for register histories.

A history is a list of operations, each with the step it was called and the step it returned (None:
the client never heard back, so it may have taken effect at any time after its call, or never).
The checker searches for an order of the operations that respects real time (an operation that
returned before another was called comes first) and that a sequential model accepts. Wing and Gong
walk a list of call and return events: linearize the first call that the model accepts, backtrack
when a return is reached whose call was not linearized. Lowe's memoization skips any configuration
(set of linearized operations, model state) already explored, which makes the search practical.

Linearizability is compositional (Herlihy and Wing), so a key-value history is checked one key at a
time: each key is an independent register.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol

from tests.sim.kv import Op


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation. ``output`` is meaningful only when ``returned`` is not None."""

    client: str
    op: Op
    key: str
    value: str = ""
    expected: str | None = None
    output: object = None
    called: int = 0
    returned: int | None = None


class Model(Protocol):
    def init(self) -> Hashable: ...

    def step(self, state: Hashable, op: Operation) -> tuple[bool, Hashable]:
        """Whether ``op`` (with its output) is possible in ``state``, and the state after it."""
        ...


class Register:
    """A register holding a string or None, with put, get and compare-and-set."""

    def init(self) -> Hashable:
        return None

    def step(self, state: Hashable, op: Operation) -> tuple[bool, Hashable]:
        unknown = op.returned is None
        if op.op == Op.PUT:
            return True, op.value
        if op.op == Op.GET:
            return unknown or op.output == state, state
        swapped = state == op.expected
        if unknown:
            return True, op.value if swapped else state
        return op.output == swapped, op.value if swapped else state


@dataclass(slots=True)
class _Event:
    is_call: bool
    op_index: int
    match: _Event | None = None  # a call's return event
    prev: _Event | None = None
    next: _Event | None = None


def _event_list(ops: list[Operation]) -> _Event:
    """The doubly linked list of call and return events in time order, behind a sentinel head.

    Operations that never returned get their return after every other event. At equal times a
    return comes before a call: the simulator never returns and calls in the same instant.
    """
    never = max((op.returned or op.called for op in ops), default=0) + 1
    keyed: list[tuple[int, int, int, _Event]] = []
    for i, op in enumerate(ops):
        call = _Event(True, i)
        ret = _Event(False, i)
        call.match = ret
        returned = op.returned if op.returned is not None else never
        assert returned >= op.called, f"operation {op} returned before it was called"
        keyed.append((op.called, 1, i, call))
        keyed.append((returned, 0, i, ret))
    keyed.sort(key=lambda item: item[:3])
    head = _Event(False, -1)
    tail = head
    for *_, event in keyed:
        tail.next = event
        event.prev = tail
        tail = event
    return head


def _lift(call: _Event) -> None:
    """Take a call and its return out of the list (the operation is linearized)."""
    ret = call.match
    assert call.prev is not None and ret is not None and ret.prev is not None
    call.prev.next = call.next
    if call.next is not None:
        call.next.prev = call.prev
    ret.prev.next = ret.next
    if ret.next is not None:
        ret.next.prev = ret.prev


def _unlift(call: _Event) -> None:
    ret = call.match
    assert call.prev is not None and ret is not None and ret.prev is not None
    ret.prev.next = ret
    if ret.next is not None:
        ret.next.prev = ret
    call.prev.next = call
    if call.next is not None:
        call.next.prev = call


def check_operations(ops: list[Operation], model: Model) -> bool:
    """Whether the history is linearizable with respect to ``model``."""
    if not ops:
        return True
    head = _event_list(ops)
    state = model.init()
    linearized = 0  # bit i set: operation i is linearized
    cache: set[tuple[int, Hashable]] = {(0, state)}
    stack: list[tuple[_Event, Hashable]] = []
    event = head.next
    while head.next is not None:
        assert event is not None, "walked past the last event"
        if event.is_call:
            ok, new_state = model.step(state, ops[event.op_index])
            bit = 1 << event.op_index
            if ok and (linearized | bit, new_state) not in cache:
                cache.add((linearized | bit, new_state))
                stack.append((event, state))
                state, linearized = new_state, linearized | bit
                _lift(event)
                event = head.next
            else:
                event = event.next
        else:
            # A return whose call is still in the list: nothing linearizable before it, so backtrack.
            if not stack:
                return False
            event, state = stack.pop()
            linearized &= ~(1 << event.op_index)
            _unlift(event)
            event = event.next
    return True


def check_history(ops: list[Operation]) -> list[str]:
    """Check a key-value history key by key; returns the keys whose history is not linearizable."""
    by_key: dict[str, list[Operation]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    return [key for key, key_ops in sorted(by_key.items()) if not check_operations(key_ops, Register())]
