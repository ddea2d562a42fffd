"""Properties over many drawn valid jobs: lossless, stable encoding; canonicalize is idempotent
and leaves its input alone; valid jobs validate, before and after canonicalization.

Drawing a job is what costs here, so each drawn job goes through every property; the everyday
run draws a few dozen jobs and the slow-marked run (CI) many more.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from cluster import structs
from tests.unit.structs.strategies import jobs

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEEP = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_round_trip(job: structs.Job) -> None:
    encoded = structs.encode_json(job)
    decoded = structs.decode_job(encoded)
    assert decoded == job
    assert structs.encode_json(decoded) == encoded
    assert structs.convert(structs.to_builtins(job), structs.Job) == job


def check_canonicalize(job: structs.Job) -> None:
    before = structs.encode_json(job)
    once = structs.canonicalize(job)
    assert structs.encode_json(job) == before  # the input is untouched
    assert structs.canonicalize(once) == once
    check_round_trip(once)


def check_valid(job: structs.Job) -> None:
    assert structs.validate_job(job) == []
    assert structs.validate_job(structs.canonicalize(job)) == []


@QUICK
@given(jobs())
def test_properties_on_a_few_jobs(job: structs.Job) -> None:
    check_round_trip(job)
    check_canonicalize(job)
    check_valid(job)


@pytest.mark.slow
@DEEP
@given(jobs())
def test_all_properties_on_many_jobs(job: structs.Job) -> None:
    check_round_trip(job)
    check_canonicalize(job)
    check_valid(job)
