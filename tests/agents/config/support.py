"""Shared pieces of the configuration tests: the corpus folder and a loader with fixed host facts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agents.config import ConfigError, HostFacts, Loaded, load
from cluster.errors import Diagnostic

CORPUS = Path(__file__).parent / "corpus"
HOST = HostFacts(hostname="testhost", cpu_count=8)
KEY = "cg8StVXbQJ0gPvMd9o7yrg8StVXbQJ0gPvMd9o7yrg8="  # 32 bytes, base64


class TempDirs:
    """Stands in for ``tempfile.mkdtemp`` and records each call (dev mode's data folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[str] = []

    def __call__(self) -> str:
        path = self.root / f"caravan-dev-{len(self.made)}"
        path.mkdir()
        self.made.append(str(path))
        return str(path)


def load_args(argv: Sequence[str], temp: TempDirs | None = None) -> Loaded:
    return load(argv, host=HOST, make_temp_dir=temp or _no_temp_dir)


def _no_temp_dir() -> str:
    raise AssertionError("no temporary folder expected")


def errors_of(argv: Sequence[str], temp: TempDirs | None = None) -> list[Diagnostic]:
    try:
        load_args(argv, temp)
    except ConfigError as e:
        return e.diagnostics
    raise AssertionError("expected a ConfigError")


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def only_error(argv: Sequence[str]) -> Diagnostic:
    errors = errors_of(argv)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]
