"""Realistic agent configurations and the complete AgentConfig each must give."""

from __future__ import annotations

from pathlib import Path

from msgspec.structs import replace

from agents.config import (
    ACLConfig,
    Addresses,
    AgentConfig,
    ClientConfig,
    DiskThreshold,
    DockerConfig,
    Plugins,
    Ports,
    RawExecConfig,
    Reserved,
    ServerConfig,
    ServerJoin,
    TLSConfig,
)
from tests.agents.config.support import CORPUS, KEY, TempDirs, load_args

DOCKER = DockerConfig()


def test_nomads_defaults_fill_everything_not_set() -> None:
    config = load_args(["-server", "-bootstrap-expect=1", "-data-dir=/d", f"-encrypt={KEY}"]).config
    assert config == AgentConfig(
        region="global",
        datacenter="dc1",
        name="testhost",
        data_dir="/d",
        bind_addr="0.0.0.0",
        log_level="INFO",
        ports=Ports(http=4646, rpc=4647, serf=4648),
        addresses=Addresses(http="0.0.0.0", rpc="0.0.0.0", serf="0.0.0.0"),
        server=ServerConfig(enabled=True, bootstrap_expect=1, num_schedulers=8, encrypt=KEY),
        client=ClientConfig(alloc_dir="/d/alloc", state_dir="/d/client"),
    )
    assert config.server.server_join == ServerJoin(retry_join=(), retry_interval_s=30.0, retry_max=0)
    assert (config.server.heartbeat_grace_s, config.server.node_gc_threshold_s) == (10.0, 86400.0)
    assert config.client.node_pool == "default"
    assert config.client.disk_free_threshold == DiskThreshold(percent=5.0)
    assert config.acl == ACLConfig(enabled=False, token_ttl_s=30.0, policy_ttl_s=30.0, role_ttl_s=30.0)
    assert config.plugins == Plugins(raw_exec=RawExecConfig(enabled=False), docker=DOCKER)
    assert DOCKER.endpoint == "unix:///var/run/docker.sock" and "net_bind_service" in DOCKER.allow_caps
    assert config.server.cluster_key() == bytes.fromhex(
        "720f12b555db409d203ef31df68ef2ae0f12b555db409d203ef31df68ef2ae0f"
    )


def test_dev_mode_is_a_server_and_a_client_on_loopback_with_raw_exec_and_a_temporary_data_dir(
    tmp_path: Path,
) -> None:
    temp = TempDirs(tmp_path)
    loaded = load_args(["-dev", "-config", str(CORPUS / "dev.hcl")], temp)
    data_dir = temp.made[0]
    assert loaded.config == AgentConfig(
        name="testhost",
        data_dir=data_dir,
        bind_addr="127.0.0.1",
        log_level="INFO",  # the file's level wins over the dev default (DEBUG)
        dev_mode=True,
        addresses=Addresses(http="127.0.0.1", rpc="127.0.0.1", serf="127.0.0.1"),
        server=ServerConfig(enabled=True, bootstrap_expect=1, num_schedulers=8),
        client=ClientConfig(enabled=True, alloc_dir=f"{data_dir}/alloc", state_dir=f"{data_dir}/client"),
        plugins=Plugins(
            raw_exec=RawExecConfig(enabled=True),
            docker=replace(DOCKER, allow_privileged=True, volumes_enabled=True),
        ),
        files=(str(CORPUS / "dev.hcl"),),
    )
    assert loaded.warnings == ()


def test_dev_mode_with_a_data_dir_keeps_its_state_there(tmp_path: Path) -> None:
    temp = TempDirs(tmp_path)
    config = load_args(["-dev", "-data-dir", "/var/lib/caravan-dev"], temp).config
    assert config.data_dir == "/var/lib/caravan-dev" and temp.made == []
    assert config.log_level == "DEBUG"
    assert config.client.state_dir == "/var/lib/caravan-dev/client"


def test_a_three_server_folder_merges_in_name_order() -> None:
    loaded = load_args(["-config", str(CORPUS / "three-server"), "-node", "eu-server-1"])
    common, tuning = (str(CORPUS / "three-server" / n) for n in ("10-common.hcl", "20-tuning.hcl"))
    assert loaded.config == AgentConfig(
        region="eu",
        datacenter="eu-west-1a",
        name="eu-server-1",
        data_dir="/var/lib/caravan",
        log_level="WARN",
        ports=Ports(http=5646),
        addresses=Addresses(http="127.0.0.1", rpc="0.0.0.0", serf="0.0.0.0"),
        server=ServerConfig(
            enabled=True,
            bootstrap_expect=3,
            encrypt=KEY,
            server_join=ServerJoin(
                retry_join=("10.0.1.10", "10.0.1.11", "10.0.1.12"), retry_interval_s=15.0, retry_max=10
            ),
            heartbeat_grace_s=30.0,
            num_schedulers=2,
            node_gc_threshold_s=48 * 3600.0,
            job_gc_threshold_s=2 * 3600.0,
        ),
        client=ClientConfig(alloc_dir="/var/lib/caravan/alloc", state_dir="/var/lib/caravan/client"),
        acl=ACLConfig(enabled=True, token_ttl_s=60.0),
        files=(common, tuning),
    )
    [warning] = loaded.warnings
    assert (warning.filename, warning.line, warning.path) == (common, 25, "consul")
    assert warning.message == "ignored: Caravan has no Consul integration"


def test_a_client_with_plugins() -> None:
    config = load_args(["-config", str(CORPUS / "client-plugins.hcl")]).config
    assert config == AgentConfig(
        name="worker-07",
        datacenter="dc2",
        data_dir="/srv/caravan",
        addresses=Addresses(http="0.0.0.0", rpc="0.0.0.0", serf="0.0.0.0"),
        server=ServerConfig(encrypt=KEY, num_schedulers=8),
        client=ClientConfig(
            enabled=True,
            servers=("10.0.1.10:4647", "10.0.1.11:5647", "[fd00::12]:4647"),
            node_class="batch",
            node_pool="gpu",
            meta={"rack": "r12", "owner": "ml-team"},
            reserved=Reserved(
                cpu_mhz=500, memory_mb=1024, disk_mb=2048, reserved_ports=(22, 8500, 8501, 8502)
            ),
            cpu_total_compute_mhz=12000,
            disk_free_threshold=DiskThreshold(mb=10 * 1024),
            max_kill_timeout_s=120.0,
            alloc_dir="/srv/caravan/alloc",
            state_dir="/srv/caravan/client",
        ),
        plugins=Plugins(
            raw_exec=RawExecConfig(enabled=True),
            docker=replace(
                DOCKER,
                endpoint="unix:///run/docker.sock",
                allow_caps=("chown", "net_raw"),
                pull_activity_timeout_s=300.0,
                extra_labels=("job_name", "task_group_name"),
                gc_image=False,
                gc_image_delay_s=3600.0,
                gc_container=True,
                auth_config="/etc/docker-auth.json",
            ),
        ),
        files=(str(CORPUS / "client-plugins.hcl"),),
    )


def test_a_server_with_tls(tmp_path: Path) -> None:
    for name in ("ca.pem", "server.pem", "server-key.pem"):
        (tmp_path / name).write_text("-----BEGIN CERTIFICATE-----\n")
    source = (CORPUS / "tls" / "tls.hcl").read_text().replace("@@DIR@@", str(tmp_path))
    path = tmp_path / "tls.hcl"
    path.write_text(source)
    config = load_args(["-config", str(path)]).config
    assert config.tls == TLSConfig(
        http=True,
        rpc=True,
        ca_file=f"{tmp_path}/ca.pem",
        cert_file=f"{tmp_path}/server.pem",
        key_file=f"{tmp_path}/server-key.pem",
        verify_server_hostname=True,
        verify_https_client=False,
        tls_min_version="tls13",
    )
    # with mutual TLS for RPC no cluster key is needed
    assert config.server.encrypt == "" and config.server.cluster_key() is None
    assert config.server == ServerConfig(enabled=True, bootstrap_expect=1, num_schedulers=8)
