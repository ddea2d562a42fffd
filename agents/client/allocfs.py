"""Reading an allocation's directory for ``nomad alloc fs`` and ``nomad alloc logs``, safely.

Paths are relative to the allocation's directory (``/`` is ``<data_dir>/alloc/<id>``), as Nomad's are.
Every path is resolved (symlinks followed) before use and must stay inside the allocation's directory:
``../../etc/passwd`` or a symlink a task planted pointing at ``/`` is refused with ``PermissionDenied``.
The tasks' ``secrets/`` and ``private/`` folders (tokens, driver state) are refused too, as Nomad refuses
reading secrets.

Logs are read across their rotated files (``alloc/logs/<task>.<stdout|stderr>.<N>``). A position is a
file name and an offset in it, as Nomad's log frames carry them; reading at the end of a file moves on
to the next index when there is one, so a follower never misses a rotation. A position in a file that
has since been purged moves to the oldest file kept.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agents.client.drivers.logs import log_files
from cluster.errors import InvalidInput, NotFound, PermissionDenied

__all__ = ["FileInfo", "LogChunk", "list_dir", "read_file", "read_log", "resolve", "stat_path"]

MAX_READ_BYTES = 1 << 20
_HIDDEN = ("secrets", "private")
LOG_TYPES = ("stdout", "stderr")


@dataclass(frozen=True, slots=True)
class FileInfo:
    """Nomad's ``AllocFileInfo``."""

    name: str
    is_dir: bool
    size: int
    file_mode: str
    mod_time: str
    content_type: str


@dataclass(frozen=True, slots=True)
class LogChunk:
    """Bytes of one log file, the file's name and the offset in it after those bytes."""

    data: bytes
    file: str
    offset: int


def resolve(root: Path, relative: str) -> Path:
    """The real path of ``relative`` inside ``root``, or PermissionDenied when it escapes or is secret."""
    if "\x00" in relative:
        raise InvalidInput("path contains a NUL byte")
    base = root.resolve()
    target = (base / relative.lstrip("/")).resolve()
    if target != base and base not in target.parents:
        raise PermissionDenied(f"path {relative!r} is outside the allocation directory")
    parts = target.relative_to(base).parts
    if len(parts) >= 2 and parts[1] in _HIDDEN and parts[0] != "alloc":
        raise PermissionDenied(f"reading {parts[0]}/{parts[1]} is not allowed")
    return target


def _info(path: Path, name: str) -> FileInfo:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise NotFound(f"no file or directory {name!r}") from None
    is_dir = stat.S_ISDIR(st.st_mode)
    content_type = "" if is_dir else (mimetypes.guess_type(path.name)[0] or "application/octet-stream")
    return FileInfo(name=path.name or name, is_dir=is_dir, size=0 if is_dir else st.st_size,
                    file_mode=stat.filemode(st.st_mode),
                    mod_time=datetime.fromtimestamp(st.st_mtime, tz=UTC).isoformat().replace("+00:00", "Z"),
                    content_type=content_type)


def stat_path(root: Path, relative: str) -> FileInfo:
    return _info(resolve(root, relative), relative)


def list_dir(root: Path, relative: str) -> list[FileInfo]:
    """The entries of a directory, by name; entries that vanish while listing are left out."""
    target = resolve(root, relative)
    if not target.is_dir():
        raise InvalidInput(f"{relative!r} is not a directory") if target.exists() else NotFound(
            f"no directory {relative!r}")
    infos = []
    for entry in sorted(os.listdir(target)):
        try:
            infos.append(_info(target / entry, entry))
        except NotFound:
            continue
    return infos


def read_file(root: Path, relative: str, offset: int = 0, limit: int = MAX_READ_BYTES) -> bytes:
    """Up to ``limit`` bytes of a file from ``offset`` (negative: from the end)."""
    target = resolve(root, relative)
    if target.is_dir():
        raise InvalidInput(f"{relative!r} is a directory")
    try:
        with open(target, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size + offset) if offset < 0 else offset)
            return f.read(max(0, min(limit, MAX_READ_BYTES)))
    except FileNotFoundError:
        raise NotFound(f"no file {relative!r}") from None


def _file_index(base: str, name: str) -> int:
    prefix = base + "."
    if not name.startswith(prefix) or not name[len(prefix):].isdigit():
        raise InvalidInput(f"log file {name!r} is not one of {base}.N")
    return int(name[len(prefix):])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _start(files: list[tuple[int, Path]], offset: int, origin: str) -> tuple[int, int]:
    """(position in ``files``, offset in that file) of ``offset`` bytes from the start or end of the
    stream made of all kept files."""
    sizes = [_size(p) for _, p in files]
    skip = offset if origin == "start" else max(0, sum(sizes) - offset)
    for i, size in enumerate(sizes):
        if skip < size or i == len(sizes) - 1:
            return i, min(skip, size)
        skip -= size
    raise AssertionError("files is not empty")


def read_log(logs_dir: Path, task: str, kind: str, *, file: str = "", offset: int = 0, origin: str = "start",
             limit: int = MAX_READ_BYTES) -> LogChunk:
    """The next bytes of a task's log. With ``file``, from ``offset`` in that file (moving on to the next
    file at its end); without, from ``offset`` bytes after the start or before the end of the stream."""
    if kind not in LOG_TYPES:
        raise InvalidInput(f"log type must be stdout or stderr, not {kind!r}")
    if origin not in ("start", "end"):
        raise InvalidInput(f"origin must be start or end, not {origin!r}")
    if "/" in task or task in ("", ".", ".."):
        raise InvalidInput(f"bad task name {task!r}")
    base = f"{task}.{kind}"
    files = log_files(logs_dir, base)
    if not files:
        return LogChunk(b"", file, offset if file else 0)
    if file:
        wanted = _file_index(base, file)
        position = next((i for i, (index, _) in enumerate(files) if index >= wanted), len(files) - 1)
        at = offset if files[position][0] == wanted else 0
    else:
        position, at = _start(files, max(0, offset), origin)
    while True:
        path = files[position][1]
        data = _read_at(path, at, limit)
        if data or position == len(files) - 1 or at < _size(path):
            return LogChunk(data, path.name, at + len(data))
        position, at = position + 1, 0  # the end of a rotated file: on to the next


def _read_at(path: Path, offset: int, limit: int) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(max(0, min(limit, MAX_READ_BYTES)))
    except FileNotFoundError:
        return b""
