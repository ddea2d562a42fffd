"""/v1/operator: the Raft configuration and peers, leadership transfer, state snapshots, and the scheduler
configuration, as Nomad's operator API.

ACL as Nomad's: the Raft endpoints and snapshots need a management token; the scheduler configuration
needs ``operator:read`` to read and ``operator:write`` to change.

A snapshot download is a gzipped tar archive, like Nomad's: ``meta.json`` (ID, Index, Term, Version),
``state.bin`` (the state store's bytes) and ``SHA256SUMS`` over both, so a damaged file is detected.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import time
from typing import Any

import msgspec
from django.http import HttpRequest, HttpResponse

from agents.server.endpoints_operator import (
    RaftPeerRequest,
    SchedulerConfigurationResponse,
    SchedulerGetRequest,
    SchedulerSetConfigRequest,
    SchedulerSetConfigResponse,
    SnapshotSaveRequest,
    SnapshotSaveResponse,
    TransferLeadershipRequest,
    WriteResponse,
)
from agents.server.membership import RaftConfigurationRequest, RaftConfigurationResponse
from cluster.errors import InvalidInput, NotFound, PermissionDenied
from cluster.state import SchedulerConfiguration
from cluster.state.records import SCHEDULER_ALGORITHM_BINPACK, SCHEDULER_ALGORITHM_SPREAD
from webui.api.auth import PERMISSION_DENIED, request_acl
from webui.api.http import api_view, json_response, read_json
from webui.api.jobs_read import query_options
from webui.gateway import gateway

__all__ = [
    "operator_raft_configuration", "operator_raft_peer", "operator_scheduler_configuration", "operator_snapshot",
    "operator_transfer_leadership", "snapshot_archive", "with_meta",
]

SCHEDULER_ALGORITHMS = (SCHEDULER_ALGORITHM_BINPACK, SCHEDULER_ALGORITHM_SPREAD)
SNAPSHOT_VERSION = 1
SNAPSHOT_CALL_TIMEOUT_S = 60.0
WRITE_TIMEOUT_S = 30.0


def with_meta(response: HttpResponse, index: int, known_leader: bool, last_contact_ms: int) -> HttpResponse:
    """Nomad's query meta headers, from what the answering server said."""
    response["X-Nomad-Index"] = str(index)
    response["X-Nomad-KnownLeader"] = "true" if known_leader else "false"
    response["X-Nomad-LastContact"] = str(last_contact_ms)
    return response


def require_management(request: HttpRequest) -> None:
    acl = request_acl(request)
    if acl is not None and not acl.is_management:
        raise PermissionDenied(PERMISSION_DENIED)


def _require_operator(request: HttpRequest, write: bool) -> None:
    acl = request_acl(request)
    if acl is not None and not (acl.allow_operator_write() if write else acl.allow_operator_read()):
        raise PermissionDenied(PERMISSION_DENIED)


# ---- Raft ----------------------------------------------------------------------------------------


@api_view("GET")
def operator_raft_configuration(request: HttpRequest) -> HttpResponse:
    """GET /v1/operator/raft/configuration: the servers in Raft (``?stale``: any server's own view)."""
    require_management(request)
    reply = _configuration(request)
    body = {"Index": reply.Index, "Servers": reply.Servers}
    return with_meta(json_response(body), reply.Index, reply.KnownLeader, reply.LastContact)


def _configuration(request: HttpRequest) -> RaftConfigurationResponse:
    args = RaftConfigurationRequest(Region=request.GET.get("region", ""), AllowStale="stale" in request.GET)
    return gateway().call_sync("Operator.RaftGetConfiguration", args, RaftConfigurationResponse)


def _peer_id(request: HttpRequest) -> str:
    """The ``?id=`` asked for, or the ID of the server at ``?address=`` (its Raft address)."""
    peer_id: str = request.GET.get("id", "")
    address: str = request.GET.get("address", "")
    if bool(peer_id) == bool(address):
        raise InvalidInput("Must specify either ?id with the server's ID or ?address with IP:port of peer")
    if peer_id:
        return peer_id
    servers = _configuration(request).Servers
    found = next((s.ID for s in servers if s.Address == address), None)
    if found is None:
        raise NotFound(f"address {address!r} was not found in the Raft configuration")
    return found


@api_view("DELETE")
def operator_raft_peer(request: HttpRequest) -> HttpResponse:
    """DELETE /v1/operator/raft/peer?id= (or ?address=): removes a server from Raft."""
    require_management(request)
    args = RaftPeerRequest(ID=_peer_id(request), Region=request.GET.get("region", ""))
    gateway().call_sync("Operator.RaftRemovePeerByID", args, WriteResponse, timeout_s=WRITE_TIMEOUT_S)
    return HttpResponse(status=200)


@api_view("PUT", "POST")
def operator_transfer_leadership(request: HttpRequest) -> HttpResponse:
    """PUT /v1/operator/raft/transfer-leadership?id= (or ?address=; neither: any other voter)."""
    require_management(request)
    has_target = bool(request.GET.get("id") or request.GET.get("address"))
    args = TransferLeadershipRequest(ID=_peer_id(request) if has_target else "", Region=request.GET.get("region", ""))
    reply = gateway().call_sync("Operator.TransferLeadershipToPeer", args, WriteResponse, timeout_s=WRITE_TIMEOUT_S)
    return json_response({"Index": reply.Index})


# ---- snapshots -----------------------------------------------------------------------------------


@api_view("GET")
def operator_snapshot(request: HttpRequest) -> HttpResponse:
    """GET /v1/operator/snapshot: the state at a committed index, as a gzipped tar archive."""
    require_management(request)
    archive, index = save_snapshot(request.GET.get("region", ""))
    response = HttpResponse(archive, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="caravan-{index}.snap"'
    response["Digest"] = "sha-256=" + hashlib.sha256(archive).hexdigest()
    return with_meta(response, index, True, 0)


def save_snapshot(region: str = "") -> tuple[bytes, int]:
    """A new snapshot of the state, fetched in chunks, as the archive the download gives; with its Raft
    index. Also what the scheduled-snapshot workflow (``webui.tasks``) saves."""
    first = gateway().call_sync("Operator.SnapshotSave", SnapshotSaveRequest(Region=region), SnapshotSaveResponse,
                                timeout_s=SNAPSHOT_CALL_TIMEOUT_S)
    data = bytearray(first.Data)
    while len(data) < first.Size:
        more = gateway().call_sync(
            "Operator.SnapshotSave", SnapshotSaveRequest(SnapshotID=first.SnapshotID, Offset=len(data), Region=region),
            SnapshotSaveResponse, timeout_s=SNAPSHOT_CALL_TIMEOUT_S)
        if not more.Data:
            raise NotFound("the snapshot ended early; save it again")
        data += more.Data
    return snapshot_archive(first.SnapshotID, first.Index, first.Term, bytes(data)), first.Index


def snapshot_archive(snapshot_id: str, index: int, term: int, state: bytes) -> bytes:
    """The downloadable file: meta.json, state.bin and SHA256SUMS in a gzipped tar."""
    meta = msgspec.json.encode({"ID": snapshot_id, "Index": index, "Term": term, "Version": SNAPSHOT_VERSION})
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                   for name, data in (("meta.json", meta), ("state.bin", state))).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in (("meta.json", meta), ("state.bin", state), ("SHA256SUMS", sums)):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


# ---- the scheduler configuration -----------------------------------------------------------------


@api_view("GET", "PUT", "POST")
def operator_scheduler_configuration(request: HttpRequest) -> HttpResponse:
    """GET: the configuration; PUT/POST: change it (``?cas=N``: only if its ModifyIndex is still N)."""
    if request.method == "GET":
        return _scheduler_get(request)
    return _scheduler_set(request)


def _scheduler_get(request: HttpRequest) -> HttpResponse:
    _require_operator(request, write=False)
    opts = query_options(request)
    args = SchedulerGetRequest(**opts.rpc_fields())
    reply = gateway().call_sync("Operator.SchedulerGetConfiguration", args, SchedulerConfigurationResponse,
                                timeout_s=opts.timeout_s())
    body = {"Index": reply.Index, "KnownLeader": reply.KnownLeader, "LastContact": reply.LastContact,
            "SchedulerConfig": reply.SchedulerConfig}
    return with_meta(json_response(body), reply.Index, reply.KnownLeader, reply.LastContact)


def _scheduler_set(request: HttpRequest) -> HttpResponse:
    _require_operator(request, write=True)
    body: dict[str, Any] = read_json(request)
    body.pop("CreateIndex", None)
    body.pop("ModifyIndex", None)
    try:
        config = msgspec.convert(body, SchedulerConfiguration)
    except msgspec.ValidationError as e:
        raise InvalidInput(f"scheduler configuration: {e}") from None
    if config.SchedulerAlgorithm not in SCHEDULER_ALGORITHMS:
        raise InvalidInput(f"invalid scheduler algorithm {config.SchedulerAlgorithm!r}: expected "
                           f"{' or '.join(SCHEDULER_ALGORITHMS)}")
    raw_cas = request.GET.get("cas")
    try:
        cas_index = int(raw_cas) if raw_cas is not None else 0
    except ValueError:
        raise InvalidInput(f"Error parsing cas value: {raw_cas!r}") from None
    args = SchedulerSetConfigRequest(Config=config, CAS=raw_cas is not None, CASIndex=cas_index,
                                     Region=request.GET.get("region", ""))
    reply = gateway().call_sync("Operator.SchedulerSetConfiguration", args, SchedulerSetConfigResponse,
                                timeout_s=WRITE_TIMEOUT_S)
    return json_response({"Updated": reply.Updated, "Index": reply.Index})
