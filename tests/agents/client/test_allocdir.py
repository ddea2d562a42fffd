"""The alloc dir as a task and a user browsing ``nomad alloc fs`` see it."""

from __future__ import annotations

import stat
from pathlib import Path

from agents.client.allocdir import AllocDir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_layout_is_nomads(tmp_path: Path) -> None:
    alloc_dir = AllocDir(tmp_path, "abc")
    alloc_dir.build(["web", "sidecar"])
    root = tmp_path / "alloc" / "abc"
    for sub in ("data", "logs", "tmp"):
        assert (root / "alloc" / sub).is_dir()
    for task in ("web", "sidecar"):
        for sub in ("local", "secrets", "tmp", "private"):
            assert (root / task / sub).is_dir()
        assert mode(root / task / "secrets") == 0o700
        assert mode(root / task / "private") == 0o700
    assert alloc_dir.shared_dir == root / "alloc"
    assert alloc_dir.task_dir("web").local_dir == root / "web" / "local"


def test_build_again_keeps_what_tasks_wrote(tmp_path: Path) -> None:
    alloc_dir = AllocDir(tmp_path, "abc")
    alloc_dir.build(["web"])
    (alloc_dir.data_dir / "db").write_text("rows")
    (alloc_dir.task_dir("web").local_dir / "conf").write_text("x")
    alloc_dir.build(["web"])
    assert (alloc_dir.data_dir / "db").read_text() == "rows"
    assert (alloc_dir.task_dir("web").local_dir / "conf").read_text() == "x"


def test_destroy_removes_everything_even_read_only_dirs(tmp_path: Path) -> None:
    alloc_dir = AllocDir(tmp_path, "abc")
    alloc_dir.build(["web"])
    locked = alloc_dir.task_dir("web").local_dir / "locked"
    locked.mkdir()
    (locked / "file").write_text("x")
    locked.chmod(0o500)
    alloc_dir.destroy()
    assert not (tmp_path / "alloc" / "abc").exists()
    alloc_dir.destroy()  # twice is fine
