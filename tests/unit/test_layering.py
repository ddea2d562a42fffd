"""``cluster/`` is the pure core: it must import no Django, asyncio or sockets, and read no clock,
environment or global random source (DESIGN.md, "How that looks here" 1). This test reads every
module's syntax tree, and imports the whole package in a fresh interpreter to catch transitive imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "cluster"

# Modules (and their submodules) that cluster/ may not import at all.
FORBIDDEN_MODULES = {
    "asyncio", "socket", "ssl", "selectors", "select", "threading", "multiprocessing", "subprocess",
    "os", "time", "secrets", "signal", "shutil", "tempfile", "http", "requests", "urllib.request",
    "django", "channels", "celery", "redis", "docker", "psutil", "webui", "agents", "cli",
}
# Calls that read the clock or the global random source even through an allowed import.
FORBIDDEN_ATTR_CALLS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("uuid", "uuid1"), ("uuid", "uuid4"),
}
# From `random`, only the class may be used: an injected random.Random instance is fine, the
# module-level functions (the global random source) are not.
ALLOWED_FROM_RANDOM = {"Random"}


def _forbidden(module: str) -> bool:
    parts = module.split(".")
    return any(".".join(parts[: i + 1]) in FORBIDDEN_MODULES for i in range(len(parts)))


def cluster_modules() -> list[Path]:
    return sorted(CLUSTER.rglob("*.py"))


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    rel = path.relative_to(ROOT)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _forbidden(alias.name):
                    found.append(f"{rel}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if _forbidden(node.module):
                found.append(f"{rel}:{node.lineno}: from {node.module} import ...")
            if top == "random":
                extra = {a.name for a in node.names} - ALLOWED_FROM_RANDOM
                if extra:
                    found.append(f"{rel}:{node.lineno}: from random import {', '.join(sorted(extra))}")
        elif isinstance(node, ast.Attribute):
            base = node.value
            name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else ""
            if (name, node.attr) in FORBIDDEN_ATTR_CALLS:
                found.append(f"{rel}:{node.lineno}: {name}.{node.attr}")
            if isinstance(base, ast.Name) and name == "random" and node.attr not in ALLOWED_FROM_RANDOM:
                found.append(f"{rel}:{node.lineno}: random.{node.attr} (use an injected random.Random)")
    return found


def test_cluster_has_modules() -> None:
    assert len(cluster_modules()) > 3


@pytest.mark.parametrize("path", cluster_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_pure(path: Path) -> None:
    assert violations(path) == []


def test_checker_catches_impure_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import os\nimport asyncio.tasks\nfrom django.conf import settings\nimport random\n"
        "from random import random as r, Random\nimport datetime\nx = datetime.datetime.now()\n"
        "y = random.random()\nz: random.Random\nimport urllib.parse\nimport urllib.request\n"
    )
    found = violations_at(bad)
    assert len(found) == 7, found


def violations_at(path: Path) -> list[str]:
    # The checker names paths relative to the repo; for a temp file, fake the root.
    global ROOT
    saved, ROOT = ROOT, path.parent
    try:
        return violations(path)
    finally:
        ROOT = saved


def test_importing_cluster_pulls_in_no_forbidden_module() -> None:
    names = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in cluster_modules()
    ]
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'asyncio', 'socket', 'django', 'channels', 'celery', 'threading', 'subprocess', 'ssl'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"importing cluster loads: {out}"
