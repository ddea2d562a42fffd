"""``PUT /v1/operator/snapshot``: restore the state from a file ``GET /v1/operator/snapshot`` saved.

The body is that archive (gzipped tar with ``meta.json``, ``state.bin`` and ``SHA256SUMS``). It is checked
whole before anything is sent (a damaged or foreign file is a 400 that changes nothing), then the state goes
to the leader in chunks and is committed as one Raft entry (``agents/server/endpoints_restore.py``). Needs a
management token, as Nomad's restore does. ``/v1/operator/snapshot`` routes here; GET goes on to the save.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from agents.server.endpoints_restore import MAX_RESTORE_BYTES, SnapshotRestoreRequest, SnapshotRestoreResponse
from cluster.errors import InvalidInput
from webui.api import operator
from webui.api.http import api_view, json_response
from webui.gateway import gateway

__all__ = ["operator_snapshot_root", "read_archive", "restore_state"]

CHUNK_BYTES = 8 << 20
RESTORE_CALL_TIMEOUT_S = 120.0
_MEMBERS = ("meta.json", "state.bin", "SHA256SUMS")


@csrf_exempt  # token-authenticated API, as every /v1 view (api_view does the same)
def operator_snapshot_root(request: HttpRequest) -> HttpResponse:
    """GET saves (``operator.operator_snapshot``), PUT/POST restores."""
    if request.method == "GET":
        return operator.operator_snapshot(request)
    return _restore(request)


@api_view("PUT", "POST")
def _restore(request: HttpRequest) -> HttpResponse:
    operator.require_management(request)
    body = request.read(MAX_RESTORE_BYTES + 1)
    if len(body) > MAX_RESTORE_BYTES:
        raise InvalidInput(f"the snapshot is larger than {MAX_RESTORE_BYTES} bytes")
    state, meta = read_archive(body)
    index = restore_state(state, region=request.GET.get("region", ""))
    response = json_response({"Index": index, "RestoredFrom": meta.get("Index", 0)})
    response["X-Nomad-Index"] = str(index)
    return response


def read_archive(data: bytes) -> tuple[bytes, dict[str, object]]:
    """(state, meta) of a snapshot archive, or InvalidInput saying what is wrong with it."""
    try:
        raw = gzip.decompress(data)
        files: dict[str, bytes] = {}
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar.getmembers():
                if member.name in _MEMBERS and member.isfile():
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    files[member.name] = extracted.read()
    except (OSError, EOFError, tarfile.TarError) as e:
        raise InvalidInput(f"not a Caravan snapshot file (a gzipped tar from `operator snapshot save`): {e}") from None
    missing = [m for m in _MEMBERS if m not in files]
    if missing:
        raise InvalidInput(f"not a Caravan snapshot file: {', '.join(missing)} missing")
    sums = {}
    for line in files["SHA256SUMS"].decode("utf-8", "replace").splitlines():
        digest, _, name = line.partition("  ")
        sums[name.strip()] = digest.strip()
    for name in ("meta.json", "state.bin"):
        if hashlib.sha256(files[name]).hexdigest() != sums.get(name):
            raise InvalidInput(f"snapshot file damaged: {name} does not match its SHA256SUMS entry")
    try:
        meta = json.loads(files["meta.json"])
    except ValueError:
        raise InvalidInput("snapshot file damaged: meta.json is not JSON") from None
    if not isinstance(meta, dict) or meta.get("Version") != operator.SNAPSHOT_VERSION:
        raise InvalidInput(f"snapshot format {meta.get('Version') if isinstance(meta, dict) else '?'} is not "
                           f"supported (expected {operator.SNAPSHOT_VERSION})")
    return files["state.bin"], meta


def restore_state(state: bytes, *, region: str = "") -> int:
    """Sends ``state`` to the leader in chunks and has it restored; the Raft index it was restored at."""
    gw = gateway()
    digest = hashlib.sha256(state).hexdigest()
    upload_id, offset = "", 0
    while True:
        chunk = state[offset:offset + CHUNK_BYTES]
        final = offset + len(chunk) >= len(state)
        reply = gw.call_sync("Operator.SnapshotRestore",
                             SnapshotRestoreRequest(UploadID=upload_id, Offset=offset, Data=chunk, Final=final,
                                                    SHA256=digest if final else "", Region=region),
                             SnapshotRestoreResponse, timeout_s=RESTORE_CALL_TIMEOUT_S)
        if final:
            return reply.Index
        upload_id, offset = reply.UploadID, reply.Received
