"""An allocation's directory on the client, laid out as Nomad lays it out.

::

    <data_dir>/alloc/<alloc_id>/
        alloc/              shared by the group's tasks (NOMAD_ALLOC_DIR)
            data/           kept across in-place updates (ephemeral_disk migrate/sticky)
            logs/           <task>.stdout.N / <task>.stderr.N
            tmp/
        <task>/
            local/          the task's own files (NOMAD_TASK_DIR), templates and artifacts land here
            secrets/        0700, for tokens and secret templates (NOMAD_SECRETS_DIR)
            tmp/
            private/        0700, the driver's private files (handles, exit records); never shown to
                            a task whose driver isolates its file system

The layout is built idempotently, so a restarted client can call ``build`` again on an allocation
it reattaches to without disturbing what the tasks wrote.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AllocDir", "TaskDir"]

SHARED_SUBDIRS = ("data", "logs", "tmp")
SECRET_MODE = 0o700
SHARED_MODE = 0o777  # Nomad makes alloc/ and tmp/ world-writable so tasks running as any user can share them


@dataclass(frozen=True, slots=True)
class TaskDir:
    """The directories of one task inside its allocation's directory."""

    name: str
    path: Path

    @property
    def local_dir(self) -> Path:
        return self.path / "local"

    @property
    def secrets_dir(self) -> Path:
        return self.path / "secrets"

    @property
    def tmp_dir(self) -> Path:
        return self.path / "tmp"

    @property
    def private_dir(self) -> Path:
        return self.path / "private"

    def build(self) -> None:
        """Creates the task's directories (again: existing files are kept)."""
        self.path.mkdir(parents=True, exist_ok=True)
        for directory in (self.local_dir, self.tmp_dir):
            directory.mkdir(exist_ok=True)
        self.tmp_dir.chmod(SHARED_MODE)
        for directory in (self.secrets_dir, self.private_dir):
            directory.mkdir(exist_ok=True)
            directory.chmod(SECRET_MODE)


class AllocDir:
    """The directory tree of one allocation under the client's data dir."""

    def __init__(self, data_dir: Path, alloc_id: str) -> None:
        assert alloc_id and "/" not in alloc_id and alloc_id not in (".", ".."), alloc_id
        self.alloc_id = alloc_id
        self.path = Path(data_dir) / "alloc" / alloc_id

    @property
    def shared_dir(self) -> Path:
        """``alloc/``: what ``NOMAD_ALLOC_DIR`` names for tasks without file system isolation."""
        return self.path / "alloc"

    @property
    def data_dir(self) -> Path:
        return self.shared_dir / "data"

    @property
    def logs_dir(self) -> Path:
        return self.shared_dir / "logs"

    def task_dir(self, task_name: str) -> TaskDir:
        assert task_name and "/" not in task_name and task_name != "alloc", task_name
        return TaskDir(task_name, self.path / task_name)

    def build(self, task_names: list[str] | tuple[str, ...] = ()) -> None:
        """Creates the shared directories and those of ``task_names``; idempotent."""
        self.shared_dir.mkdir(parents=True, exist_ok=True)
        self.shared_dir.chmod(SHARED_MODE)
        for name in SHARED_SUBDIRS:
            (self.shared_dir / name).mkdir(exist_ok=True)
        (self.shared_dir / "tmp").chmod(SHARED_MODE)
        for task_name in task_names:
            self.task_dir(task_name).build()

    def exists(self) -> bool:
        return self.shared_dir.is_dir()

    def destroy(self) -> None:
        """Removes the whole tree (the allocation is garbage collected). Read-only files left by a
        task do not stop it: their directory's permissions are fixed and the removal retried."""

        if not self.path.exists():
            return
        shutil.rmtree(self.path, onerror=_make_writable_and_retry)


def _make_writable_and_retry(function: object, path: str, _exc_info: object) -> None:
    """A task may leave a directory without write permission: open it up and remove again."""
    os.chmod(os.path.dirname(path), SECRET_MODE)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, SECRET_MODE)
        shutil.rmtree(path, onerror=_make_writable_and_retry)
    else:
        os.unlink(path)
