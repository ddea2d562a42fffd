"""Where the job-file corpus and its golden JSON live, and how a corpus file is rendered.

Shared by the golden, round-trip and semantic tests and by ``regen_golden.py``, so that the
script writes exactly what the tests compare against.
"""

from __future__ import annotations

from pathlib import Path

from cluster import jobspec

HERE = Path(__file__).resolve().parent
CORPUS_DIR = HERE / "corpus"
GOLDEN_DIR = HERE / "golden"
SUFFIX = ".nomad.hcl"


def corpus_paths() -> list[Path]:
    """Every corpus job file, sorted by name (stable test ids)."""
    return sorted(CORPUS_DIR.glob(f"*{SUFFIX}"))


def stem(path: Path) -> str:
    """``web-canary.nomad.hcl`` -> ``web-canary``."""
    return path.name.removesuffix(SUFFIX)


def golden_path(path: Path) -> Path:
    return GOLDEN_DIR / f"{stem(path)}.json"


def parse_corpus(path: Path) -> jobspec.Parsed:
    """Parses one corpus file as ``caravan job run -output`` would, with no -var of any kind."""
    return jobspec.parse_hcl(path.read_text(encoding="utf-8"), filename=path.name)


def render(path: Path) -> bytes:
    """The golden bytes of a corpus file: the job's API JSON."""
    return jobspec.job_to_api_json(parse_corpus(path).job)
