"""Streams a container's stdout and stderr from the engine into the task's rotating log files, resumably.

The engine keeps each container's output (json-file, local or journald log driver) with a nanosecond
timestamp per entry. A shipper follows the stream with timestamps, writes each entry's text to the
stream's ``RotatingLog`` and remembers the last timestamp written in a small positions file in the
driver dir. A recovered task (client restart) resumes from there: the engine is asked for entries
since that moment and those not newer are skipped, so output written while the client was down is
not lost. Positions are saved at most every ``POSITION_SAVE_INTERVAL_S`` (and on detach or end), so
a crash can repeat that much output but never loses any.
"""

from __future__ import annotations

import calendar
import json
import logging
import os
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agents.client.drivers.logs import LogRotation, RotatingLog

__all__ = ["ContainerLogShipper", "parse_timestamp_ns"]

log = logging.getLogger(__name__)

POSITION_SAVE_INTERVAL_S = 0.5
STREAMS = ("stdout", "stderr")


def parse_timestamp_ns(text: str) -> int:
    """The engine's RFC 3339 timestamps (``2024-05-01T12:34:56.123456789Z``, trailing zeros of the
    fraction dropped) as Unix nanoseconds. Strings do not sort as times; these integers do."""
    stamp = text.strip()
    if stamp.endswith("Z"):
        stamp = stamp[:-1]
    whole, _, fraction = stamp.partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds * 1_000_000_000 + int((fraction + "000000000")[:9])


def _frames(response: Any) -> Iterator[bytes]:
    """The payloads of a multiplexed stream: each frame is an 8-byte header (stream, 0, 0, 0, size as
    a big-endian uint32) and that many bytes. The engine writes one log entry per frame."""
    while True:
        header = response.raw.read(8)
        if len(header) < 8:
            return
        size = struct.unpack(">xxxxL", header)[0]
        payload = response.raw.read(size) if size else b""
        if len(payload) < size:
            return
        yield payload


def _entries(response: Any, tty: bool) -> Iterator[tuple[int, bytes]]:
    """(timestamp, text) per log entry. Without a tty each frame is one entry; with a tty the stream
    is raw bytes, so entries are cut at newlines."""
    if not tty:
        for frame in _frames(response):
            stamp, _, text = frame.partition(b" ")
            yield parse_timestamp_ns(stamp.decode()), text
        return
    pending = b""
    for chunk in response.iter_content(chunk_size=None):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            stamp, _, text = line.partition(b" ")
            yield parse_timestamp_ns(stamp.decode()), text + b"\n"


class _Positions:
    """The last shipped timestamp per stream, in a JSON file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            saved = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            saved = {}
        self.last_ns = {s: int(saved.get(s, 0)) for s in STREAMS}
        self._saved_at = 0.0

    def save(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._saved_at < POSITION_SAVE_INTERVAL_S:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.last_ns))
        os.replace(tmp, self.path)
        self._saved_at = now


class ContainerLogShipper:
    """Two threads (stdout, stderr) that copy one container's output into its log files.

    ``api`` is the SDK's low-level ``APIClient``. The threads end when the container stops (the
    engine closes a followed stream then) or, after ``detach``, at the next entry without writing it.
    """

    def __init__(self, api: Any, container_id: str, *, tty: bool, log_dir: Path, task_name: str,
                 rotation: LogRotation, positions_path: Path) -> None:
        self._api = api
        self._container_id = container_id
        self._tty = tty
        self._log_dir = log_dir
        self._task_name = task_name
        self._rotation = rotation
        self._positions = _Positions(positions_path)
        self._lock = threading.Lock()
        self._detached = False
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self) -> None:
        streams = ("stdout",) if self._tty else STREAMS  # a tty merges stderr into stdout
        for stream in streams:
            thread = threading.Thread(target=self._ship, args=(stream,), daemon=True,
                                      name=f"logs {self._task_name} {stream}")
            thread.start()
            self._threads.append(thread)

    def join(self, timeout_s: float) -> bool:
        """Waits until every stream has ended; False if one is still running after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        return not any(t.is_alive() for t in self._threads)

    def detach(self) -> None:
        """Stops writing (the client is shutting down, the task keeps running): whatever was written is
        recorded in the positions file, and nothing is written after, so a successor resumes exactly."""
        with self._lock:
            self._detached = True
            self._positions.save(force=True)

    def _open_stream(self, stream: str) -> Any:
        """A followed, timestamped log stream of one of the container's outputs. Requested through the
        SDK client's HTTP session (the SDK's own ``logs`` generator cannot be closed), so that the
        connection is closed when shipping ends, however it ends."""
        since_ns = self._positions.last_ns[stream]
        params: dict[str, int | str] = {"stdout": int(stream == "stdout"), "stderr": int(stream == "stderr"),
                                        "follow": 1, "timestamps": 1}
        if since_ns:
            # Microseconds, rounded down (never past the last entry written); the engine takes decimals.
            params["since"] = f"{since_ns // 1_000_000_000}.{since_ns % 1_000_000_000 // 1000:06d}"
        url = f"{self._api.base_url}/v{self._api.api_version}/containers/{self._container_id}/logs"
        response = self._api.get(url, params=params, stream=True, timeout=None)
        response.raise_for_status()
        return response

    def _ship(self, stream: str) -> None:
        target = RotatingLog(self._log_dir, f"{self._task_name}.{stream}", self._rotation)
        response = None
        try:
            response = self._open_stream(stream)
            for stamp_ns, text in _entries(response, self._tty):
                with self._lock:
                    if self._detached:
                        return
                    if stamp_ns <= self._positions.last_ns[stream]:
                        continue  # shipped before the restart
                    target.write(text)
                    self._positions.last_ns[stream] = stamp_ns
                    self._positions.save()
        except Exception as e:  # the engine went away or removed the container: keep what we have
            self.errors.append(f"{stream}: {e}")
            log.warning("log stream %s of container %s ended: %s", stream, self._container_id[:12], e)
        finally:
            if response is not None:
                response.close()
            target.close()
            with self._lock:
                if not self._detached:
                    self._positions.save(force=True)
