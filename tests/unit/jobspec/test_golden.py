"""Every corpus job file parses to exactly its reviewed golden JSON (``regen_golden.py`` writes them).

A difference here means ``caravan job run -output`` prints something else for a real job file
than what was checked against Nomad's job specification: a user would see it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.jobspec.corpus_support import GOLDEN_DIR, corpus_paths, golden_path, parse_corpus, render

CORPUS = corpus_paths()

# Corpus files that use deprecated fields on purpose, and the warnings (line, field path) they get.
EXPECTED_WARNINGS: dict[str, list[tuple[int, str]]] = {
    "periodic-cron-legacy.nomad.hcl": [(7, "job.periodic.cron")],
    "legacy-resources-network.nomad.hcl": [(19, "job.group[app].task[server].resources.network[0].mbits")],
}


def test_corpus_is_large_enough_to_cover_the_job_specification() -> None:
    assert len(CORPUS) >= 28


def test_every_golden_file_belongs_to_a_corpus_file() -> None:
    expected = {golden_path(p).name for p in CORPUS}
    actual = {p.name for p in GOLDEN_DIR.glob("*.json")}
    assert actual == expected


def differences(got: Any, want: Any, path: str = "Job") -> list[str]:
    """Every field where ``got`` and ``want`` differ, as ``path: got != want`` lines."""
    if isinstance(got, dict) and isinstance(want, dict):
        out = []
        for key in [*want, *(k for k in got if k not in want)]:
            if key not in got or key not in want:
                out.append(f"{path}.{key}: {got.get(key, '<absent>')!r} != {want.get(key, '<absent>')!r}")
            else:
                out += differences(got[key], want[key], f"{path}.{key}")
        return out
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{path}[{i}]")
        ]
    return [] if got == want and type(got) is type(want) else [f"{path}: {got!r} != {want!r}"]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_file_renders_its_golden_json(path: Path) -> None:
    golden = golden_path(path).read_bytes()
    rendered = render(path)
    # Compare the data first, field by field (rendered != golden), then the bytes (key order, indentation).
    diffs = differences(json.loads(rendered)["Job"], json.loads(golden)["Job"])
    assert not diffs, "rendered != golden:\n" + "\n".join(diffs)
    assert rendered == golden


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_file_warns_only_about_its_deprecated_fields(path: Path) -> None:
    warnings = parse_corpus(path).warnings
    got = [(w.line, w.path) for w in warnings]
    assert got == EXPECTED_WARNINGS.get(path.name, [])
    for w in warnings:
        assert w.filename == path.name
        assert "deprecated" in w.message
