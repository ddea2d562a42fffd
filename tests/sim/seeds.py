"""``@seeded(n)``: how many seeds a simulation test runs by default (see ``tests/sim/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def seeded(count: int) -> Callable[[F], F]:
    def mark(func: F) -> F:
        func.sim_seed_count = count  # type: ignore[attr-defined]
        return func

    return mark
