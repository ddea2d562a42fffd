"""The docker driver's configs without an engine: what a job may ask on this client, and the container
it gets (names, labels, environment, mounts, memory), as a user reading ``docker inspect`` would see."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from agents.client.drivers.base import PortMapping, TaskResources
from agents.client.drivers.docker_config import (
    DockerPluginConfig,
    container_settings,
    port_problems,
    validate_task_config,
)
from cluster.errors import InvalidInput
from tests.agents.drivers.conftest import MakeTask

DEFAULT = DockerPluginConfig()


def keys(config: Mapping[str, object], plugin: DockerPluginConfig = DEFAULT) -> list[str]:
    return [p.key for p in validate_task_config(config, plugin)]


def test_the_job_file_checks_come_first() -> None:
    problems = validate_task_config({"image": "redis:7", "imgae_pull_timeout": "1m"}, DEFAULT)
    assert [str(p) for p in problems] == [
        'config.imgae_pull_timeout: unknown docker config option "imgae_pull_timeout"; '
        'did you mean "image_pull_timeout"?'
    ]
    assert keys({"command": "x"}) == [""]  # image is required


def test_networking_options_that_need_a_bridge_are_refused_with_a_reason() -> None:
    problems = validate_task_config(
        {"image": "a:1", "network_mode": "bridge", "port_map": [{"http": 80}]}, DEFAULT)
    by_key = {p.key: p.message for p in problems}
    assert set(by_key) == {"network_mode", "port_map"}
    assert "host networking" in by_key["network_mode"]
    assert keys({"image": "a:1", "hostname": "web"}) == ["hostname"]  # the host's name in host networking
    assert keys({"image": "a:1", "network_mode": "none", "hostname": "web"}) == []


def test_what_the_client_allows() -> None:
    risky = {"image": "a:1", "privileged": True, "cap_add": ["NET_ADMIN", "CAP_CHOWN"],
             "volumes": ["/etc:/host-etc:ro", "data:/data"]}
    assert keys(risky) == ["privileged", "cap_add", "volumes"]
    lenient = DockerPluginConfig.parse({"allow_privileged": True, "volumes": [{"enabled": True}],
                                        "allow_caps": ["chown", "net_admin"]})
    assert keys(risky, lenient) == []
    unreadable = {"image": "a:1", "volumes": ["nocolon"], "logging": [{"type": "syslog"}]}
    assert keys(unreadable) == ["volumes", "logging"]


def test_plugin_config_mistakes_are_errors() -> None:
    with pytest.raises(InvalidInput, match='unknown docker plugin option "allow_privilege"'):
        DockerPluginConfig.parse({"allow_privilege": True})
    with pytest.raises(InvalidInput, match="must be a bool"):
        DockerPluginConfig.parse({"volumes": {"enabled": "yes"}})


def test_container_names_labels_and_environment(make_task: MakeTask) -> None:
    task = make_task({"image": "redis:7", "command": "redis-server", "args": ["--port", "6380"],
                      "labels": [{"team": "cache"}], "ports": ["db"]},
                     env={"NOMAD_TASK_DIR": "/host/path/local", "A": "1"},
                     ports=(PortMapping("db", 6380, to=6379),), task_name="redis")
    settings = container_settings(task)
    assert settings["name"] == f"redis-{task.alloc_id}"
    assert settings["command"] == ["redis-server", "--port", "6380"]
    assert settings["network_mode"] == "host"
    assert settings["labels"] == {
        "team": "cache", "com.caravan.alloc_id": task.alloc_id, "com.caravan.task_name": "redis",
        "com.caravan.job_name": "example", "com.caravan.task_group_name": "cache",
        "com.caravan.namespace": "default",
    }
    env = settings["environment"]
    assert (env["A"], env["NOMAD_TASK_DIR"], env["NOMAD_ALLOC_DIR"], env["NOMAD_SECRETS_DIR"]) == (
        "1", "/local", "/alloc", "/secrets")
    ports = (env["NOMAD_PORT_db"], env["NOMAD_HOST_PORT_db"], env["NOMAD_ADDR_db"])
    assert ports == ("6380", "6380", "127.0.0.1:6380")  # host networking: no translation to "to"
    assert settings["stop_signal"] == "SIGTERM"
    assert port_problems(task) == []
    assert [p.message for p in port_problems(make_task({"image": "a:1", "ports": ["web"]}))] == [
        'port label "web" is not in the group\'s network block']


def test_alloc_dirs_and_volumes_are_mounted(make_task: MakeTask, tmp_path: Path) -> None:
    task = make_task({"image": "a:1", "volumes": ["local/conf:/etc/app:ro"],
                      "mount": [{"type": "tmpfs", "target": "/scratch", "tmpfs_options": [{"size": 1024}]}]})
    settings = container_settings(task)
    assert settings["volumes"] == [
        f"{task.alloc_dir.resolve()}:/alloc", f"{task.local_dir.resolve()}:/local",
        f"{task.secrets_dir.resolve()}:/secrets", f"{(task.task_dir / 'local/conf').resolve()}:/etc/app:ro",
    ]
    [mount] = settings["mounts"]
    assert (mount["Type"], mount["Target"], mount["TmpfsOptions"]["SizeBytes"]) == ("tmpfs", "/scratch", 1024)


def test_memory_reservation_and_hard_limit(make_task: MakeTask) -> None:
    plain = container_settings(make_task({"image": "a:1"},
                                         resources=TaskResources(cpu_mhz=500, memory_mb=256)))
    assert (plain["mem_limit"], plain["cpu_shares"]) == ("256m", 500)
    assert "mem_reservation" not in plain
    hard = container_settings(make_task({"image": "a:1", "memory_hard_limit": 512},
                                        resources=TaskResources(memory_mb=256)))
    assert (hard["mem_limit"], hard["mem_reservation"]) == ("512m", "256m")
    oversubscribed = container_settings(make_task({"image": "a:1"},
                                                  resources=TaskResources(memory_mb=256, memory_max_mb=1024)))
    assert (oversubscribed["mem_limit"], oversubscribed["mem_reservation"]) == ("1024m", "256m")


def test_the_engine_keeps_a_bounded_copy_of_the_output(make_task: MakeTask) -> None:
    default = container_settings(make_task({"image": "a:1"}))["log_config"]
    assert (default["Type"], default["Config"]) == ("json-file", {"max-size": "1m", "max-file": "2"})
    logging = [{"type": "local", "config": [{"max-size": "5m"}]}]
    chosen = container_settings(make_task({"image": "a:1", "logging": logging}))
    assert (chosen["log_config"]["Type"], chosen["log_config"]["Config"]) == ("local", {"max-size": "5m"})
