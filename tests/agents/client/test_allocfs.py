"""Reading an allocation's files and logs: no path leaves the allocation directory, and logs read across
rotated files from either end, as ``nomad alloc fs`` and ``nomad alloc logs`` show them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.client import allocfs
from agents.client.allocdir import AllocDir
from agents.client.drivers.logs import LogRotation, RotatingLog
from cluster.errors import InvalidInput, NotFound, PermissionDenied


@pytest.fixture
def alloc(tmp_path: Path) -> AllocDir:
    alloc_dir = AllocDir(tmp_path / "data", "a1")
    alloc_dir.build(["web"])
    (alloc_dir.task_dir("web").local_dir / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "outside.txt").write_text("secret of the host")
    return alloc_dir


@pytest.mark.parametrize("path", ["../../outside.txt", "/../..", "web/../../../outside.txt", "..", "web/secrets",
                                  "web/private/handle.json"])
def test_paths_outside_the_alloc_dir_or_secret_are_refused(alloc: AllocDir, path: str) -> None:
    with pytest.raises(PermissionDenied):
        allocfs.read_file(alloc.path, path)


def test_a_symlink_planted_by_a_task_cannot_lead_out(alloc: AllocDir, tmp_path: Path) -> None:
    os.symlink(tmp_path / "outside.txt", alloc.task_dir("web").local_dir / "escape")
    os.symlink("/", alloc.task_dir("web").local_dir / "root")
    with pytest.raises(PermissionDenied):
        allocfs.read_file(alloc.path, "web/local/escape")
    with pytest.raises(PermissionDenied):
        allocfs.list_dir(alloc.path, "web/local/root/etc")


def test_list_stat_and_cat_inside(alloc: AllocDir) -> None:
    names = {i.name: i for i in allocfs.list_dir(alloc.path, "/")}
    assert set(names) == {"alloc", "web"} and names["web"].is_dir
    assert [i.name for i in allocfs.list_dir(alloc.path, "web/local")] == ["index.html"]
    info = allocfs.stat_path(alloc.path, "/web/local/index.html")
    assert (info.size, info.is_dir, info.content_type) == (11, False, "text/html")
    assert allocfs.read_file(alloc.path, "web/local/index.html") == b"<h1>hi</h1>"
    assert allocfs.read_file(alloc.path, "web/local/index.html", offset=4, limit=2) == b"hi"
    assert allocfs.read_file(alloc.path, "web/local/index.html", offset=-5) == b"</h1>"
    with pytest.raises(NotFound):
        allocfs.stat_path(alloc.path, "web/local/nope")
    with pytest.raises(InvalidInput):
        allocfs.read_file(alloc.path, "web/local")


def _rotated(alloc: AllocDir, data: bytes, max_files: int = 10) -> None:
    log = RotatingLog(alloc.logs_dir, "web.stdout", LogRotation(max_files=max_files, max_file_size_mb=1))
    log.write(data)
    log.close()


def _follow(alloc: AllocDir, **start: object) -> bytes:
    """Everything from a start position to the end, a chunk at a time, as a follower reads it."""
    chunk = allocfs.read_log(alloc.logs_dir, "web", "stdout", limit=300_000, **start)  # type: ignore[arg-type]
    out = chunk.data
    while chunk.data:
        chunk = allocfs.read_log(alloc.logs_dir, "web", "stdout", file=chunk.file, offset=chunk.offset,
                                 limit=300_000)
        out += chunk.data
    return out


def test_logs_read_across_rotated_files(alloc: AllocDir) -> None:
    one_mb = 1 << 20
    data = bytes(i % 251 for i in range(2 * one_mb + 1000))
    _rotated(alloc, data)
    assert sorted(os.listdir(alloc.logs_dir)) == ["web.stdout.0", "web.stdout.1", "web.stdout.2"]
    assert _follow(alloc) == data
    assert _follow(alloc, offset=one_mb + 5) == data[one_mb + 5:]
    assert _follow(alloc, origin="end", offset=1500) == data[-1500:]
    last = allocfs.read_log(alloc.logs_dir, "web", "stdout", origin="end", offset=0)
    assert (last.data, last.file, last.offset) == (b"", "web.stdout.2", 1000)


def test_a_follower_in_a_purged_file_moves_to_the_oldest_kept(alloc: AllocDir) -> None:
    one_mb = 1 << 20
    _rotated(alloc, b"a" * one_mb + b"b" * one_mb + b"c" * 10, max_files=2)
    chunk = allocfs.read_log(alloc.logs_dir, "web", "stdout", file="web.stdout.0", offset=7)
    assert chunk.file == "web.stdout.1" and chunk.data[:1] == b"b"


def test_log_arguments_are_checked(alloc: AllocDir) -> None:
    with pytest.raises(InvalidInput):
        allocfs.read_log(alloc.logs_dir, "web", "stdin")
    with pytest.raises(InvalidInput):
        allocfs.read_log(alloc.logs_dir, "../web", "stdout")
    with pytest.raises(InvalidInput):
        allocfs.read_log(alloc.logs_dir, "web", "stdout", origin="middle")
    assert allocfs.read_log(alloc.logs_dir, "web", "stdout").data == b""
