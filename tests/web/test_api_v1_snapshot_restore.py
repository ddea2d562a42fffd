"""Snapshot save then restore through /v1/operator/snapshot, against a real server process.

What an operator notices: after a restore, the cluster's state is the saved one (a job registered after the
save is gone, one registered before is back); a damaged or foreign file is a 400 that changes nothing; only a
management token may restore.
"""

from __future__ import annotations

import gzip

import pytest
from django.test import Client

from tests.web.test_api_v1 import acl_off, acl_on, get, register, secret, server
from webui.acl import token_create

__all__ = ["acl_off", "acl_on", "server"]  # fixtures shared with test_api_v1

pytestmark = pytest.mark.slow


def restore(body: bytes, **headers: str) -> object:
    return Client().put("/v1/operator/snapshot", data=body, content_type="application/octet-stream",
                        headers=headers)


def test_restore_brings_back_the_saved_state(server: str) -> None:
    register("before-save")
    saved = get("/v1/operator/snapshot")
    assert saved.status_code == 200 and saved["Content-Type"] == "application/octet-stream"
    archive = saved.content
    register("after-save")
    assert get("/v1/job/after-save").status_code == 200
    before = int(get("/v1/jobs")["X-Nomad-Index"])

    answer = restore(archive)
    assert answer.status_code == 200, answer.content
    assert answer.json()["Index"] > before  # type: ignore[attr-defined]
    assert get("/v1/job/after-save").status_code == 404
    assert get("/v1/job/before-save").status_code == 200
    assert int(get("/v1/jobs")["X-Nomad-Index"]) >= answer.json()["Index"]  # type: ignore[attr-defined]
    # The cluster goes on working on the restored state.
    register("after-restore")
    assert {j["ID"] for j in get("/v1/jobs").json()} >= {"before-save", "after-restore"}


@pytest.mark.parametrize(("body", "message"), [
    (b"not a snapshot", "not a Caravan snapshot file"),
    (gzip.compress(b"plain text, no tar"), "not a Caravan snapshot file"),
])
def test_damaged_files_are_refused_and_change_nothing(server: str, body: bytes, message: str) -> None:
    register("survives-bad-restore")
    answer = restore(body)
    assert answer.status_code == 400 and message in answer.content.decode()  # type: ignore[attr-defined]
    assert get("/v1/job/survives-bad-restore").status_code == 200


def test_a_flipped_byte_is_caught_by_the_checksums(server: str) -> None:
    import io
    import tarfile

    archive = get("/v1/operator/snapshot").content
    raw = io.BytesIO(gzip.decompress(archive))
    out = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="r:") as tar, tarfile.open(fileobj=out, mode="w") as copy:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "state.bin":
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            copy.addfile(member, io.BytesIO(data))
    answer = restore(gzip.compress(out.getvalue()))
    assert answer.status_code == 400
    assert "state.bin does not match its SHA256SUMS entry" in answer.content.decode()  # type: ignore[attr-defined]


def test_only_management_restores(server: str, acl_on: None) -> None:
    writer = secret("write-default")
    manager = token_create(name="m", type="management").secret_id
    archive = get("/v1/operator/snapshot", **{"X-Nomad-Token": manager}).content
    assert restore(archive, **{"X-Nomad-Token": writer}).status_code == 403  # type: ignore[attr-defined]
    assert restore(archive).status_code == 403  # type: ignore[attr-defined]
