"""Seeded simulation runs: ``--seed N`` replays one seed, and a failing run names its seed.

A test asks for the ``seed`` argument and says how many seeds it runs by default with ``@seeded(n)``
(from ``tests.sim.seeds``); ``pytest tests/sim --seed N`` runs every such test with seed N only.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seed",
        type=int,
        default=None,
        help="run the simulation tests with this one seed (replays a failure exactly)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" not in metafunc.fixturenames:
        return
    count = getattr(metafunc.function, "sim_seed_count", None)
    assert count is not None, f"{metafunc.function.__name__} takes a seed: decorate it with @seeded(n)"
    chosen = metafunc.config.getoption("seed", default=None)
    seeds = [chosen] if chosen is not None else list(range(count))
    metafunc.parametrize("seed", seeds, ids=[f"seed={s}" for s in seeds])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    callspec = getattr(item, "callspec", None)
    if report.failed and callspec is not None and "seed" in callspec.params:
        seed = callspec.params["seed"]
        test = item.nodeid.split("[", 1)[0]
        report.sections.append(
            ("simulation seed", f"failed with seed {seed}; replay it with: pytest tests/sim --seed {seed}"
                                f"  (this test only: pytest '{test}' --seed {seed})")
        )
    return report
