"""The NOMAD_* environment and runtime interpolation, as a task's process sees them."""

from __future__ import annotations

from pathlib import Path

from agents.client.allocdir import AllocDir
from agents.client.taskenv import alloc_index, build_task_env
from cluster.structs import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    PortMapping,
)
from tests.agents.client.support import make_alloc, make_node, make_task


def build(tmp_path: Path, *, isolated: bool = False, host_env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    task = make_task("web", Env={"GREETING": "hi from ${NOMAD_TASK_NAME} on ${attr.kernel.name}",
                                 "ADDR": "${NOMAD_ADDR_http}", "KEEP": "${HOME_NOT_SET}"},
                     Meta={"tier": "front"})
    alloc = make_alloc(task, Meta={"owner": "ops", "my-key": "v"})
    alloc.Job.ParentID = "example-parent"  # type: ignore[union-attr]
    alloc.AllocatedResources = AllocatedResources(
        Tasks={"web": AllocatedTaskResources(Cpu=AllocatedCpuResources(CpuShares=500),
                                             Memory=AllocatedMemoryResources(MemoryMB=256, MemoryMaxMB=512))},
        Shared=AllocatedSharedResources(Ports=[PortMapping(Label="http", Value=23456, To=8080, HostIP="10.0.0.5")]),
    )
    alloc_dir = AllocDir(tmp_path, alloc.ID)
    env = build_task_env(alloc=alloc, task=task, node=make_node(), alloc_dir=alloc_dir, isolated=isolated,
                         host_env=host_env)
    return env, alloc, alloc_dir


def test_nomad_variables(tmp_path: Path) -> None:
    env, alloc, alloc_dir = build(tmp_path)
    e = env.env
    assert e["NOMAD_ALLOC_ID"] == alloc.ID
    assert e["NOMAD_SHORT_ALLOC_ID"] == alloc.ID[:8]
    assert e["NOMAD_ALLOC_NAME"] == "example.cache[2]"
    assert e["NOMAD_ALLOC_INDEX"] == "2"
    assert (e["NOMAD_JOB_ID"], e["NOMAD_JOB_NAME"], e["NOMAD_GROUP_NAME"], e["NOMAD_TASK_NAME"]) == (
        "example", "example", "cache", "web")
    assert (e["NOMAD_NAMESPACE"], e["NOMAD_REGION"], e["NOMAD_DC"]) == ("default", "global", "dc1")
    assert e["NOMAD_JOB_PARENT_ID"] == "example-parent"
    assert e["NOMAD_ALLOC_DIR"] == str(alloc_dir.shared_dir)
    assert e["NOMAD_TASK_DIR"] == str(alloc_dir.task_dir("web").local_dir)
    assert e["NOMAD_SECRETS_DIR"] == str(alloc_dir.task_dir("web").secrets_dir)
    assert (e["NOMAD_CPU_LIMIT"], e["NOMAD_MEMORY_LIMIT"], e["NOMAD_MEMORY_MAX_LIMIT"]) == ("500", "256", "512")
    assert e["NOMAD_PORT_http"] == e["NOMAD_HOST_PORT_http"] == "23456"
    assert e["NOMAD_IP_http"] == "10.0.0.5"
    assert e["NOMAD_ADDR_http"] == "10.0.0.5:23456"


def test_meta_upper_and_as_written_task_wins(tmp_path: Path) -> None:
    e = build(tmp_path)[0].env
    assert e["NOMAD_META_OWNER"] == e["NOMAD_META_owner"] == "ops"
    assert e["NOMAD_META_TIER"] == "front"
    assert e["NOMAD_META_MY_KEY"] == e["NOMAD_META_my-key"] == "v"


def test_task_env_is_interpolated_unknown_references_kept(tmp_path: Path) -> None:
    e = build(tmp_path)[0].env
    assert e["GREETING"] == "hi from web on linux"
    assert e["ADDR"] == "10.0.0.5:23456"
    assert e["KEEP"] == "${HOME_NOT_SET}"


def test_driver_config_interpolation_and_node_values(tmp_path: Path) -> None:
    env = build(tmp_path)[0]
    config = {"command": "/bin/${attr.kernel.name}", "args": ["--rack=${meta.rack}", "${node.unique.id}",
                                                              "${node.class}/${node.datacenter}", 3],
              "nested": {"dir": "${NOMAD_TASK_DIR}", "port": "${NOMAD_PORT_http}"}}
    out = env.interpolate_config(config)
    assert out["command"] == "/bin/linux"
    assert out["args"] == ["--rack=r1", "node-1", "gpu/dc1", 3]
    assert out["nested"] == {"dir": env.env["NOMAD_TASK_DIR"], "port": "23456"}
    assert config["command"] == "/bin/${attr.kernel.name}"  # the job's own config is untouched


def test_isolated_dirs_and_host_env_denylist(tmp_path: Path) -> None:
    e = build(tmp_path, isolated=True)[0].env
    assert (e["NOMAD_ALLOC_DIR"], e["NOMAD_TASK_DIR"], e["NOMAD_SECRETS_DIR"]) == ("/alloc", "/local", "/secrets")
    e = build(tmp_path, host_env={"PATH": "/bin", "VAULT_TOKEN": "s3cret", "GREETING": "host"})[0].env
    assert e["PATH"] == "/bin"
    assert "VAULT_TOKEN" not in e
    assert e["GREETING"].startswith("hi from")  # the task's env block wins


def test_alloc_index() -> None:
    assert alloc_index("web.cache[12]") == 12
    assert alloc_index("odd") == 0
