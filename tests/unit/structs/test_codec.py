"""JSON in and out: strict decoding, stable encoding with every field, lossless round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from cluster import structs
from tests.unit.structs import fixtures

JOBS = {
    "web": fixtures.web_job,
    "batch": fixtures.batch_job,
    "system": fixtures.system_job,
    "sysbatch": fixtures.sysbatch_job,
    "cli-output": fixtures.cli_output_job,
}


@pytest.mark.parametrize("make", JOBS.values(), ids=JOBS.keys())
@pytest.mark.parametrize("canonical", [False, True], ids=["as-sent", "canonical"])
def test_job_round_trips_and_encodes_stably(make: Any, canonical: bool) -> None:
    job = structs.decode_job(make())
    if canonical:
        job = structs.canonicalize(job)
    encoded = structs.encode_json(job)
    again = structs.decode_job(encoded)
    assert again == job
    assert structs.encode_json(again) == encoded
    assert structs.decode_job(encoded.decode()) == job  # text works as well as bytes


def test_decoding_from_bytes_and_from_builtins_agree() -> None:
    data = fixtures.web_job()
    assert structs.decode_job(json.dumps(data).encode()) == structs.decode_job(data)


def test_encoding_prints_every_field_with_null_for_unset_ones() -> None:
    job = structs.decode_job({"ID": "tiny", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker"}]}]})
    out = json.loads(structs.encode_json(job))
    assert set(out) == set(structs.Job.__struct_fields__)
    assert out["Priority"] is None and out["Periodic"] is None and out["Dispatched"] is False
    task = out["TaskGroups"][0]["Tasks"][0]
    assert task["KillTimeout"] is None and task["Leader"] is False and task["User"] == ""


def test_encoding_sorts_map_keys_like_go_and_keeps_field_order() -> None:
    job = structs.decode_job({"ID": "j", "Meta": {"zeta": "1", "alpha": "2"}})
    text = structs.encode_json(job).decode()
    assert text.index('"alpha"') < text.index('"zeta"')
    assert text.index('"Region"') < text.index('"ID"') < text.index('"TaskGroups"')  # Nomad's order


def test_durations_are_integer_nanoseconds_in_json() -> None:
    job = structs.canonicalize(structs.decode_job(fixtures.web_job()))
    out = json.loads(structs.encode_json(job))
    task = out["TaskGroups"][0]["Tasks"][0]
    assert task["KillTimeout"] == 20_000_000_000
    assert out["TaskGroups"][1]["Tasks"][0]["KillTimeout"] == 5_000_000_000
    assert out["TaskGroups"][0]["Update"]["HealthyDeadline"] == 240_000_000_000


def test_payload_bytes_travel_as_base64() -> None:
    job = structs.decode_job({"ID": "d", "Dispatched": True, "Payload": "aGVsbG8="})
    assert job.Payload == b"hello"
    assert json.loads(structs.encode_json(job))["Payload"] == "aGVsbG8="


def test_config_and_meta_keep_keys_and_values_as_written() -> None:
    job = structs.decode_job(fixtures.web_job())
    task = job.TaskGroups[0].Tasks[0]  # type: ignore[index]
    assert task.Config == {"image": "ghcr.io/acme/web:2.4.1", "ports": ["http"], "args": ["--port", "${NOMAD_PORT_http}"]}
    assert job.Meta == {"team": "storefront", "owner": "Zoë"}


def test_unknown_field_is_rejected_with_msgspec_path() -> None:
    data = fixtures.web_job()
    data["TaskGroups"][0]["Tasks"][0]["Resoruces"] = {"CPU": 100}
    with pytest.raises(msgspec.ValidationError) as info:
        structs.decode_job(data)
    assert str(info.value) == "Object contains unknown field `Resoruces` - at `$.TaskGroups[0].Tasks[0]`"


def test_unknown_field_in_json_bytes_is_rejected_too() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"unknown field `Bogus` - at `\$.TaskGroups\[0\].Networks\[0\]`"):
        structs.decode_job(b'{"ID": "x", "TaskGroups": [{"Name": "g", "Networks": [{"Bogus": 1}]}]}')


def test_wrong_type_is_rejected_with_its_path() -> None:
    data = fixtures.batch_job()
    data["TaskGroups"][0]["Count"] = "three"
    with pytest.raises(msgspec.ValidationError, match=r"Expected `int \| null`, got `str` - at `\$.TaskGroups\[0\].Count`"):
        structs.decode_job(data)


def test_malformed_json_is_a_decode_error() -> None:
    with pytest.raises(msgspec.DecodeError):
        structs.decode_job(b'{"ID": ')


def test_times_nomad_writes_as_rfc3339_decode_to_utc_datetimes() -> None:
    alloc = structs.convert(fixtures.allocation(), structs.Allocation)
    state = alloc.TaskStates["app"]  # type: ignore[index]
    assert state.StartedAt == datetime(2024, 5, 18, 2, 41, 1, tzinfo=UTC)
    assert state.FinishedAt == structs.GO_ZERO_TIME
    out = json.loads(structs.encode_json(state))
    assert out["FinishedAt"] == "0001-01-01T00:00:00Z"  # Go's zero time, as Nomad prints it
    assert out["LastRestart"] == "2024-05-18T02:41:00.500000Z"


OTHERS: dict[str, tuple[Any, type[Any]]] = {
    "node": (fixtures.node, structs.Node),
    "allocation": (fixtures.allocation, structs.Allocation),
    "evaluation": (fixtures.evaluation, structs.Evaluation),
    "deployment": (fixtures.deployment, structs.Deployment),
}


@pytest.mark.parametrize(("make", "kind"), OTHERS.values(), ids=OTHERS.keys())
def test_cluster_objects_round_trip(make: Any, kind: type[Any]) -> None:
    obj = structs.convert(make(), kind)
    encoded = structs.encode_json(obj)
    assert structs.decode(encoded, kind) == obj
    assert structs.encode_json(structs.decode(encoded, kind)) == encoded
    assert structs.convert(structs.to_builtins(obj), kind) == obj


def test_node_resources_have_nomads_shape() -> None:
    node = structs.convert(fixtures.node(), structs.Node)
    assert node.NodeResources is not None and node.ReservedResources is not None
    assert node.NodeResources.Cpu.CpuShares == 16000 and node.NodeResources.Cpu.TotalCpuCores == 8
    assert node.NodeResources.Memory.MemoryMB == 32000 and node.NodeResources.Disk.DiskMB == 100000
    assert node.ReservedResources.Disk.DiskMB == 0  # absent in the JSON: Go's zero value
    assert node.Drivers["docker"].Healthy  # type: ignore[index]
    out = json.loads(structs.encode_json(node))
    assert out["DrainStrategy"]["Deadline"] == 3_600_000_000_000  # Nomad embeds DrainSpec flat


def test_allocation_and_evaluation_defaults_are_go_zero_values() -> None:
    out = json.loads(structs.encode_json(structs.Allocation(ID="a")))
    assert out["DesiredTransition"] == {
        "Migrate": None, "Reschedule": None, "ForceReschedule": None, "NoShutdownDelay": None,
        "MigrateDisablePlacement": None,
    }
    assert out["CreateTime"] == 0 and out["TaskStates"] is None
    assert json.loads(structs.encode_json(structs.Evaluation()))["WaitUntil"] == "0001-01-01T00:00:00Z"


def test_hot_structs_are_not_tracked_by_the_garbage_collector() -> None:
    import gc

    for kind in (structs.Node, structs.Allocation, structs.Resources, structs.Evaluation, structs.AllocMetric):
        assert not gc.is_tracked(kind()), kind.__name__
