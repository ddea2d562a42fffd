"""The client's persistent state in its data dir: the allocations it runs, each task's state and the
driver handle of its running process, so a restarted client reattaches instead of starting again.

::

    <data_dir>/client/allocs/<alloc_id>/alloc.json        the Allocation as last received
    <data_dir>/client/allocs/<alloc_id>/task-<name>.json  {"state": TaskState, "handle": {...} | null}

Every write is atomic (a temporary file, fsync, rename, fsync of the folder): after a crash a
file holds either its old or its new content, never a torn one. A file that still cannot be read
is an operating error (``ClientStateError``) naming the file, never silently dropped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from cluster.errors import CaravanError
from cluster.structs import Allocation, TaskState

__all__ = ["ClientState", "ClientStateError", "TaskRecord"]


class ClientStateError(CaravanError):
    """A file of the client's state is damaged or unreadable; the message names it."""


class TaskRecord(msgspec.Struct, kw_only=True):
    """What the client keeps of one task: its reported state and its driver handle (or None)."""

    state: TaskState
    handle: dict[str, Any] | None = None
    driver: str = ""


T = TypeVar("T")

_ALLOC_FILE = "alloc.json"
_TASK_PREFIX = "task-"


class ClientState:
    """The client's state under ``<data_dir>/client``. Not thread-safe: one event loop owns it."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "client" / "allocs"
        self.root.mkdir(parents=True, exist_ok=True)

    def put_alloc(self, alloc: Allocation) -> None:
        assert alloc.ID, "an allocation to keep needs an ID"
        self._write(self._alloc_dir(alloc.ID) / _ALLOC_FILE, msgspec.json.encode(alloc))

    def put_task(self, alloc_id: str, task_name: str, record: TaskRecord) -> None:
        self._write(self._alloc_dir(alloc_id) / f"{_TASK_PREFIX}{task_name}.json", msgspec.json.encode(record))

    def get_task(self, alloc_id: str, task_name: str) -> TaskRecord | None:
        path = self._alloc_dir(alloc_id) / f"{_TASK_PREFIX}{task_name}.json"
        return self._read(path, TaskRecord)

    def get_alloc(self, alloc_id: str) -> Allocation | None:
        return self._read(self._alloc_dir(alloc_id) / _ALLOC_FILE, Allocation)

    def allocs(self) -> list[Allocation]:
        """Every allocation kept, in ID order (what a restarted client reattaches to)."""
        found = []
        for entry in sorted(self.root.iterdir()):
            alloc = self.get_alloc(entry.name) if entry.is_dir() else None
            if alloc is not None:
                found.append(alloc)
        return found

    def delete_alloc(self, alloc_id: str) -> None:
        shutil.rmtree(self._alloc_dir(alloc_id), ignore_errors=True)

    def _alloc_dir(self, alloc_id: str) -> Path:
        assert alloc_id and "/" not in alloc_id and alloc_id not in (".", ".."), alloc_id
        return self.root / alloc_id

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _read(path: Path, kind: type[T]) -> T | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise ClientStateError(f"cannot read client state {path}: {e.strerror or e}") from None
        try:
            decoded: T = msgspec.json.decode(data, type=kind)
            return decoded
        except msgspec.DecodeError as e:
            raise ClientStateError(f"client state {path} is damaged: {e}") from None
