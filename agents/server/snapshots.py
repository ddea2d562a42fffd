"""Raft snapshot files, and the storage errors and fsync helpers the write-ahead log shares.

A snapshot is one file ``<index>-<term>.snap`` (16 hex digits each) holding a fixed header, the encoded
``SnapshotMeta`` and the state-machine bytes. Each part has its own CRC so that opening the WAL can check the
small meta without reading a snapshot of hundreds of megabytes. A snapshot becomes visible atomically:
it is written to a ``.tmp`` file, fsynced, renamed into place, and the directory is fsynced; a crash at any
point leaves either the old set of snapshots (plus a temp file that the next open removes) or the new one.

The storage errors live here, the lowest module of the two, and are re-exported by ``agents.server.wal``::

    CaravanError
    └── WALError                      the log or a snapshot cannot be used (failed write, bad directory)
        ├── WALCorruption             stored data is damaged: names the file and the byte offset
        └── WALInUse                  another process holds the directory's lock
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import msgspec

from cluster.errors import CaravanError
from cluster.raft.types import SnapshotMeta

__all__ = ["SnapshotStore", "WALCorruption", "WALError", "WALInUse", "fsync_directory", "write_durably"]


class WALError(CaravanError):
    """The write-ahead log or a snapshot cannot be used (a failed write, an unusable directory)."""


class WALCorruption(WALError):
    """Stored data is damaged where a crash cannot have damaged it; recovery refuses to guess.

    ``path`` and ``offset`` say where, so an operator can inspect the file (``read_segment``) or restore it.
    """

    def __init__(self, path: Path, offset: int, problem: str) -> None:
        self.path = path
        self.offset = offset
        self.problem = problem
        super().__init__(f"{path} offset {offset}: {problem}")


class WALInUse(WALError):
    """Another WAL (in this or another process) holds the directory; two writers would corrupt it."""


def fsync_directory(directory: Path) -> None:
    """Make file creations, renames and deletions in ``directory`` durable (POSIX needs the directory synced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(fd: int, *parts: bytes) -> None:
    """Write every part (one ``write`` each unless the kernel takes less), then flush them to the device.

    Parts, rather than one joined buffer, spare a copy of a large snapshot; the WAL passes a single part.
    """
    for part in parts:
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]
    getattr(os, "fdatasync", os.fsync)(fd)


_SNAP_MAGIC = b"CRVNSNP1"
# magic, meta length, data length, meta CRC, data CRC; then the CRC of those 28 bytes.
_SNAP_FIELDS = struct.Struct("<8sIQII")
_SNAP_HEADER = struct.Struct("<8sIQIII")
_SNAP_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.snap$")
_META_DECODER = msgspec.msgpack.Decoder(SnapshotMeta)


class SnapshotStore:
    """The snapshot files of one WAL directory: save atomically, find the newest, prune old ones."""

    def __init__(self, directory: Path, *, keep: int) -> None:
        assert keep >= 1, "at least the newest snapshot must be kept"
        self._directory = directory
        self._keep = keep

    def remove_temp_files(self) -> list[str]:
        """Delete what a crash in the middle of ``save`` left behind; return one warning per file."""
        warnings = []
        for path in sorted(self._directory.glob("*.snap.tmp")):
            path.unlink()
            warnings.append(f"removed an unfinished snapshot file {path.name}")
        return warnings

    def save(self, meta: SnapshotMeta, data: bytes) -> None:
        """Write the snapshot so that it is complete and durable before its name appears."""
        meta_bytes = msgspec.msgpack.encode(meta)
        fields = _SNAP_FIELDS.pack(_SNAP_MAGIC, len(meta_bytes), len(data), zlib.crc32(meta_bytes), zlib.crc32(data))
        head = fields + struct.pack("<I", zlib.crc32(fields))
        final = self._directory / f"{meta.index:016x}-{meta.term:016x}.snap"
        temp = final.with_name(final.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            write_durably(fd, head + meta_bytes, data)
        finally:
            os.close(fd)
        os.replace(temp, final)
        fsync_directory(self._directory)

    def prune(self) -> None:
        """Delete all but the newest ``keep`` snapshots (older ones stay as an operator's fallback)."""
        for path in self._paths()[: -self._keep]:
            path.unlink()

    def discard_after(self, committed: SnapshotMeta | None) -> list[str]:
        """Delete snapshots newer than the committed one (saved, but never committed); one warning each."""
        floor = (committed.index, committed.term) if committed else (-1, -1)
        warnings = []
        for path in self._paths():
            index, term = (int(part, 16) for part in path.stem.split("-"))
            if (index, term) > floor:
                path.unlink()
                warnings.append(f"removed snapshot {path.name}: a crash came before the log committed it")
        return warnings

    def newest_meta(self) -> SnapshotMeta | None:
        """The meta of the newest snapshot, checked against its CRC, without reading the data."""
        paths = self._paths()
        if not paths:
            return None
        with paths[-1].open("rb") as file:
            head = file.read(_SNAP_HEADER.size)
            meta_len = self._check_header(paths[-1], head)[0]
            meta_bytes = file.read(meta_len)
        return self._decode_meta(paths[-1], head, meta_bytes)

    def load_newest(self) -> tuple[SnapshotMeta, bytes] | None:
        """The newest snapshot, meta and data, both checked against their CRCs."""
        paths = self._paths()
        if not paths:
            return None
        path = paths[-1]
        content = path.read_bytes()
        meta_len, data_len = self._check_header(path, content[: _SNAP_HEADER.size])
        meta_end = _SNAP_HEADER.size + meta_len
        meta = self._decode_meta(path, content[: _SNAP_HEADER.size], content[_SNAP_HEADER.size : meta_end])
        if len(content) != meta_end + data_len:
            raise WALCorruption(path, len(content), f"snapshot is {len(content)} bytes, its header says "
                                f"{meta_end + data_len}")
        data = content[meta_end:]
        if zlib.crc32(data) != _SNAP_HEADER.unpack(content[: _SNAP_HEADER.size])[4]:
            raise WALCorruption(path, meta_end, "snapshot data does not match its checksum")
        return meta, data

    def _paths(self) -> list[Path]:
        """Snapshot files, oldest first (by index, then term)."""
        found = []
        for path in self._directory.iterdir():
            match = _SNAP_NAME.match(path.name)
            if match:
                found.append((int(match[1], 16), int(match[2], 16), path))
        return [path for _, _, path in sorted(found)]

    @staticmethod
    def _check_header(path: Path, head: bytes) -> tuple[int, int]:
        """Return (meta length, data length) from a header that is whole and matches its CRC."""
        if len(head) < _SNAP_HEADER.size:
            raise WALCorruption(path, len(head), "snapshot file is shorter than its header")
        magic, meta_len, data_len, _, _, head_crc = _SNAP_HEADER.unpack(head)
        if magic != _SNAP_MAGIC or zlib.crc32(head[:-4]) != head_crc:
            raise WALCorruption(path, 0, "snapshot header is damaged")
        return meta_len, data_len

    @staticmethod
    def _decode_meta(path: Path, head: bytes, meta_bytes: bytes) -> SnapshotMeta:
        """Decode the meta after checking its CRC; the file name must agree with it."""
        if zlib.crc32(meta_bytes) != _SNAP_HEADER.unpack(head)[3]:
            raise WALCorruption(path, _SNAP_HEADER.size, "snapshot meta does not match its checksum")
        try:
            meta = _META_DECODER.decode(meta_bytes)
        except msgspec.DecodeError as exc:
            raise WALCorruption(path, _SNAP_HEADER.size, f"snapshot meta cannot be decoded: {exc}") from exc
        if path.name != f"{meta.index:016x}-{meta.term:016x}.snap":
            raise WALCorruption(path, _SNAP_HEADER.size, f"snapshot meta says index {meta.index} term "
                                f"{meta.term}, which does not match the file name")
        return meta
