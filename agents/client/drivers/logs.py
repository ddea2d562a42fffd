"""Rotating log files for one stream of one task, as Nomad names and rotates them.

A task's stdout goes to ``alloc/logs/<task>.stdout.0`` until that file reaches the size limit, then to
``<task>.stdout.1``, and so on; once there are more than ``max_files`` files the one with the lowest
index is deleted. A file is never renamed, so readers (``nomad alloc logs -f``) follow indices.

A writer opened on a folder that already has files of the stream continues at the highest index:
that is how logs keep rotating correctly across task restarts and after the process that ships the
logs was replaced (a client restart recovering a docker task).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LogRotation", "RotatingLog", "log_files"]


@dataclass(frozen=True, slots=True)
class LogRotation:
    """Nomad's ``logs { max_files max_file_size }``: per stream, at most ``max_files`` files of at most
    ``max_file_size_mb`` each."""

    max_files: int = 10
    max_file_size_mb: int = 10

    def __post_init__(self) -> None:
        assert self.max_files >= 1 and self.max_file_size_mb >= 1, self

    @property
    def max_file_size_bytes(self) -> int:
        return self.max_file_size_mb * 1024 * 1024


def log_files(directory: Path, base: str) -> list[tuple[int, Path]]:
    """The files of stream ``base`` (``web.stdout``) in ``directory``, by index."""
    pattern = re.compile(re.escape(base) + r"\.([0-9]+)")
    found = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            found.append((int(match.group(1)), directory / name))
    return sorted(found)


class RotatingLog:
    """Appends one stream's bytes to its numbered files, rotating at the size limit.

    Writes go straight to the file (no buffering in this process), so a reader sees each chunk as
    soon as ``write`` returns and a crash of this process loses nothing it accepted.
    """

    def __init__(self, directory: Path, base: str, rotation: LogRotation) -> None:
        self.directory = directory
        self.base = base
        self.rotation = rotation
        directory.mkdir(parents=True, exist_ok=True)
        existing = log_files(directory, base)
        self.index = existing[-1][0] if existing else 0
        self._fd = -1
        self._size = 0
        self._open(self.index)
        if self._size >= rotation.max_file_size_bytes:
            self._rotate()
        self._purge()

    @property
    def path(self) -> Path:
        return self.directory / f"{self.base}.{self.index}"

    def write(self, data: bytes) -> None:
        """Appends ``data``, splitting it over files so that none grows past the limit."""
        assert self._fd >= 0, "write after close"
        view = memoryview(data)
        limit = self.rotation.max_file_size_bytes
        while view:
            room = limit - self._size
            if room <= 0:
                self._rotate()
                continue
            chunk = view[:room]
            written = os.write(self._fd, chunk)
            self._size += written
            view = view[written:]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open(self, index: int) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self.index = index
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        self._open(self.index + 1)
        self._purge()

    def _purge(self) -> None:
        """Deletes the oldest files beyond ``max_files`` (the current file always stays)."""
        oldest_kept = self.index - self.rotation.max_files + 1
        for index, path in log_files(self.directory, self.base):
            if index < oldest_kept:
                path.unlink(missing_ok=True)
