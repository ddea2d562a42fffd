"""A real process appends and syncs in a loop and dies by SIGKILL at a random moment; everything it reported
as synced must be found by the next open. (SIGKILL keeps the page cache, so this checks the write protocol
and recovery of real files; the crash tests cover what a power cut can do to the tail.)
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from agents.server.wal import WAL

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import random, sys
from pathlib import Path
from agents.server.wal import WAL
from cluster.raft.types import Entry, HardState, SnapshotMeta

def payload(index): return index.to_bytes(4, "big") * (index % 9)

rng = random.Random(int(sys.argv[2]))
wal, recovered = WAL.open(Path(sys.argv[1]), segment_bytes=8 << 10)
term = recovered.hard_state.term + 1
last = wal.last_index
while True:
    count = rng.randint(1, 40)
    wal.append([Entry(term, index, data=payload(index)) for index in range(last + 1, last + count + 1)])
    last += count
    wal.set_hard_state(HardState(term, "child", last))
    wal.sync()
    print(last, flush=True)
    if rng.random() < 0.03:
        wal.save_snapshot(SnapshotMeta(last, term), str(last).encode())
        wal.compact(last)
"""


def payload(index: int) -> bytes:
    return index.to_bytes(4, "big") * (index % 9)


def run_child_until_killed(directory: Path, seed: int, rng: random.Random) -> int:
    """Start the child, let it report a random number of syncs, SIGKILL it; the highest index it reported."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory), str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    reported = 0
    try:
        for _ in range(rng.randint(1, 400)):
            line = child.stdout.readline()
            assert line.endswith(b"\n"), child.stderr.read().decode() if child.stderr else ""
            reported = int(line)
    finally:
        child.send_signal(signal.SIGKILL)
        _, errors = child.communicate()
    assert child.returncode == -signal.SIGKILL, errors.decode()
    return reported


def test_every_index_a_killed_process_reported_synced_is_recovered(tmp_path: Path) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    reported = 0
    for round_number in range(4):
        reported = max(reported, run_child_until_killed(tmp_path, rng.randrange(1 << 32), rng))
        wal, recovered = WAL.open(tmp_path)
        with wal:
            covered = recovered.snapshot.index if recovered.snapshot else 0
            indexes = [entry.index for entry in recovered.entries]
            context = f"seed {seed}, round {round_number}: reported {reported}, snapshot {covered}"
            assert indexes == list(range(covered + 1, covered + len(indexes) + 1)), context
            assert max([covered, *indexes]) >= reported, context
            assert all(entry.data == payload(entry.index) for entry in recovered.entries), context
            assert recovered.hard_state.commit >= reported, context
            if recovered.snapshot:
                assert wal.load_snapshot() == (recovered.snapshot, str(covered).encode()), context
