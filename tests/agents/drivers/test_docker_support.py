"""The Docker test infrastructure itself: CI never skips the docker tests, and the test image is what the
tests rely on (a busybox root filesystem with its applets, /tmp and users)."""

from __future__ import annotations

import io
import tarfile

import pytest

from tests.agents import docker_support


def test_without_an_engine_ci_fails_and_a_developer_machine_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Docker tests must run in CI, but: no socket"):
        docker_support._unavailable("no socket")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no Docker engine: no socket"):
        docker_support._unavailable("no socket")


def test_the_busybox_root_filesystem() -> None:
    with tarfile.open(fileobj=io.BytesIO(docker_support.busybox_rootfs_tar())) as tar:
        members = {m.name: m for m in tar.getmembers()}
        passwd = tar.extractfile("etc/passwd")
        assert passwd is not None and passwd.read().startswith(b"root:x:0:0:")
    assert members["bin/busybox"].isfile() and members["bin/busybox"].mode & 0o111
    for applet in ("sh", "sleep", "echo", "cat", "env", "ls", "nc", "id", "head", "tr"):
        assert members[f"bin/{applet}"].issym() and members[f"bin/{applet}"].linkname == "busybox"
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
