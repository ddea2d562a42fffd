"""HCL -> Job -> JSON -> ``parse_json`` -> Job -> JSON is stable: what ``job run -output`` prints can be
submitted back (``nomad job run -json``, ``POST /v1/jobs``) and means the same job, byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cluster import jobspec
from tests.unit.jobspec.corpus_support import corpus_paths, parse_corpus


@pytest.mark.parametrize("path", corpus_paths(), ids=lambda p: p.name)
def test_corpus_file_round_trips_through_api_json(path: Path) -> None:
    job = parse_corpus(path).job
    first = jobspec.job_to_api_json(job)

    again = jobspec.parse_json(first, filename="round-trip.json")

    assert again.job == job
    assert jobspec.job_to_api_json(again.job) == first
    assert again.warnings == []


@pytest.mark.parametrize("path", corpus_paths(), ids=lambda p: p.name)
def test_bare_job_object_means_the_same_as_the_wrapped_one(path: Path) -> None:
    job = parse_corpus(path).job
    bare = json.dumps(json.loads(jobspec.job_to_api_json(job))["Job"])

    assert jobspec.parse_json(bare).job == job
