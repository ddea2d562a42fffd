"""Regenerates ``golden/<name>.json`` from ``corpus/<name>.nomad.hcl``. Run by hand, never by pytest:

    .venv/bin/python -m tests.unit.jobspec.regen_golden            # every corpus file
    .venv/bin/python -m tests.unit.jobspec.regen_golden web-canary # only these

A regenerated golden is only as good as its review: read the diff field by field against Nomad's
job specification before committing it (the golden test trusts these files completely).
"""

from __future__ import annotations

import sys

from cluster.errors import JobSpecError
from tests.unit.jobspec.corpus_support import GOLDEN_DIR, corpus_paths, golden_path, render, stem


def main(names: list[str]) -> int:
    paths = [p for p in corpus_paths() if not names or stem(p) in names]
    unknown = set(names) - {stem(p) for p in paths}
    if unknown:
        print(f"no such corpus file: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 1
    GOLDEN_DIR.mkdir(exist_ok=True)
    failed = 0
    for path in paths:
        try:
            data = render(path)
        except JobSpecError as e:
            failed += 1
            print(f"FAILED {path.name}:\n{e}", file=sys.stderr)
            continue
        target = golden_path(path)
        old = target.read_bytes() if target.exists() else None
        if old != data:
            target.write_bytes(data)
            print(f"{'updated' if old is not None else 'created'} {target.name}")
    known = {golden_path(p).name for p in corpus_paths()}
    for orphan in sorted(p.name for p in GOLDEN_DIR.glob("*.json") if p.name not in known):
        print(f"orphan golden (no corpus file): {orphan}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
