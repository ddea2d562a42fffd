"""A Docker engine and the test image for tests that need real containers, here and in CI.

``docker_engine`` (session fixture) uses the engine at the default socket. If none answers and the
tests run as root with ``dockerd`` installed (``./dev setup`` installs docker.io), it starts
``dockerd --iptables=false --bridge=none --storage-driver=vfs`` in the background with its log in
``.data/dockerd.log``, waits for it (bounded) and leaves it running for the next run, as ``./dev``
does. Without an engine the tests are skipped on a developer machine and fail loudly in CI (``CI``
set), where they must never be skipped.

``docker_test_image`` is ``caravan-test/busybox:1``, ``docker import``-ed from a root filesystem built
from Debian's busybox-static (``/bin/busybox``, a symlink per applet, ``/tmp``, ``/etc/passwd``): no
registry is needed. ``./dev``'s ``ensure_docker`` builds the same image the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import requests.exceptions

__all__ = ["TEST_IMAGE", "docker_engine", "docker_test_image", "ensure_engine", "ensure_test_image"]

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".data"
TEST_IMAGE = "caravan-test/busybox:1"
BUSYBOX = Path("/bin/busybox")
SOCKET = "/var/run/docker.sock"
DOCKERD_ARGS = ["--iptables=false", "--bridge=none", "--storage-driver=vfs"]
ENGINE_START_TIMEOUT_S = 30.0
PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"


class EngineUnavailable(Exception):
    """No Docker engine answers and none could be started; the message says why."""


def _client() -> docker.DockerClient | None:
    """A client of the engine at the default socket if it answers. The socket is probed first: the SDK
    leaves a socket open when it cannot connect."""
    try:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(5)
            probe.connect(SOCKET)
    except OSError:
        return None
    try:
        client = docker.DockerClient(base_url=f"unix://{SOCKET}", version="auto", timeout=10)
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None
    try:
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        client.close()
        return None
    return client


@contextlib.contextmanager
def _start_lock() -> Iterator[None]:
    """One starter at a time, across pytest-xdist workers and ./dev."""
    DATA.mkdir(exist_ok=True)
    with open(DATA / "dockerd.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _start_dockerd() -> None:
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailable("no Docker engine answers and dockerd is not installed (./dev setup does)")
    if os.geteuid() != 0:
        raise EngineUnavailable("no Docker engine answers, and only root can start dockerd")
    # setsid --fork: the daemon is nobody's child here, so it outlives the test session cleanly.
    with open(DATA / "dockerd.log", "ab") as log:
        subprocess.run(["setsid", "--fork", dockerd, *DOCKERD_ARGS], stdin=subprocess.DEVNULL, stdout=log,
                       stderr=log, check=True)
    deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
    while time.monotonic() < deadline:
        client = _client()
        if client is not None:
            client.close()
            return
        time.sleep(0.2)  # a real daemon starting: there is no clock to fake
    tail = (DATA / "dockerd.log").read_text(errors="replace")[-1500:]
    raise EngineUnavailable(f"dockerd did not come up within {ENGINE_START_TIMEOUT_S:g}s; "
                            f"its log ends:\n{tail}")


def ensure_engine() -> docker.DockerClient:
    """The engine at the default socket, started first if none answers (raises ``EngineUnavailable``)."""
    client = _client()
    if client is not None:
        return client
    with _start_lock():
        client = _client()
        if client is None:
            _start_dockerd()
            client = _client()
    if client is None:
        raise EngineUnavailable("dockerd started but does not answer")
    return client


def busybox_rootfs_tar() -> bytes:
    """A root filesystem of busybox-static as an uncompressed tar, built in memory."""
    if not BUSYBOX.is_file():
        raise EngineUnavailable(f"{BUSYBOX} is missing: install Debian's busybox-static (./dev setup)")
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700)):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in sorted(set(applets) - {"busybox"}):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        for name, content in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def ensure_test_image(client: docker.DockerClient) -> str:
    """Imports ``TEST_IMAGE`` unless the engine has it; returns its name."""
    try:
        client.images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        repository, tag = TEST_IMAGE.rsplit(":", 1)
        client.api.import_image_from_data(busybox_rootfs_tar(), repository=repository, tag=tag)
        client.images.get(TEST_IMAGE)  # fails loudly if the import did not produce it
    return TEST_IMAGE


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Docker tests must run in CI, but: {reason}", pytrace=False)
    pytest.skip(f"no Docker engine: {reason}")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[docker.DockerClient]:
    try:
        client = ensure_engine()
    except EngineUnavailable as e:
        _unavailable(str(e))
        raise AssertionError("unreachable") from e
    yield client
    client.close()


@pytest.fixture(scope="session")
def docker_test_image(docker_engine: docker.DockerClient) -> str:
    try:
        return ensure_test_image(docker_engine)
    except EngineUnavailable as e:
        _unavailable(str(e))
        raise AssertionError("unreachable") from e
