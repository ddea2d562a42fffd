"""Rotating log files as Nomad names and rotates them: ``<task>.<stream>.<index>``, a new index at the size
limit, at most max_files kept, and a new writer continuing where the last one stopped."""

from __future__ import annotations

from pathlib import Path

from agents.client.drivers.docker_logs import parse_timestamp_ns
from agents.client.drivers.logs import LogRotation, RotatingLog, log_files

MB = 1024 * 1024


def sizes(directory: Path, base: str) -> dict[int, int]:
    return {index: path.stat().st_size for index, path in log_files(directory, base)}


def test_rotates_at_the_size_limit_and_keeps_max_files(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path, "web.stdout", LogRotation(max_files=2, max_file_size_mb=1))
    log.write(b"a" * (MB - 10))
    log.write(b"b" * 20)  # splits: 10 bytes finish file 0, 10 start file 1
    assert sizes(tmp_path, "web.stdout") == {0: MB, 1: 10}
    log.write(b"c" * (2 * MB))
    log.close()
    # Files 0 and 1 filled, then 2 filled and 3 started: only the two newest remain.
    assert sizes(tmp_path, "web.stdout") == {2: MB, 3: 10}
    assert (tmp_path / "web.stdout.3").read_bytes() == b"c" * 10


def test_a_new_writer_continues_at_the_highest_index(tmp_path: Path) -> None:
    rotation = LogRotation(max_files=3, max_file_size_mb=1)
    first = RotatingLog(tmp_path, "web.stderr", rotation)
    first.write(b"x" * (MB + 5))
    first.close()
    second = RotatingLog(tmp_path, "web.stderr", rotation)
    second.write(b"more")
    second.close()
    assert sizes(tmp_path, "web.stderr") == {0: MB, 1: 9}
    assert (tmp_path / "web.stderr.1").read_bytes() == b"xxxxxmore"


def test_a_new_writer_starts_a_new_file_when_the_last_is_full(tmp_path: Path) -> None:
    (tmp_path / "web.stdout.4").write_bytes(b"y" * MB)
    (tmp_path / "web.stdout.1").write_bytes(b"old")
    log = RotatingLog(tmp_path, "web.stdout", LogRotation(max_files=2, max_file_size_mb=1))
    log.write(b"z")
    log.close()
    assert sizes(tmp_path, "web.stdout") == {4: MB, 5: 1}


def test_streams_and_tasks_do_not_mix(tmp_path: Path) -> None:
    rotation = LogRotation(max_files=1, max_file_size_mb=1)
    for base in ("web.stdout", "web.stderr", "web-2.stdout"):
        log = RotatingLog(tmp_path, base, rotation)
        log.write(base.encode())
        log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web-2.stdout.0", "web.stderr.0", "web.stdout.0"]


def test_engine_timestamps_order_as_times() -> None:
    # Docker drops trailing zeros of the fraction, so the strings do not sort; the numbers must.
    early = parse_timestamp_ns("2024-05-01T12:00:00.1234567Z")
    late = parse_timestamp_ns("2024-05-01T12:00:00.12345678Z")
    assert late - early == 80
    assert parse_timestamp_ns("1970-01-01T00:00:01Z") == 1_000_000_000
