"""``python -m agents [server] <flags>``: the same as ``caravan agent <flags>`` (Nomad's agent flags and
files); a leading ``server`` word is short for ``-server``."""

from __future__ import annotations

import sys

from cli.agent import run_agent


def _flags(argv: list[str]) -> list[str]:
    return ["-server", *argv[1:]] if argv[:1] == ["server"] else argv


if __name__ == "__main__":
    sys.exit(run_agent(_flags(sys.argv[1:])))
