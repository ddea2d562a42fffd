"""The agent configuration as typed, frozen structs, with Nomad's defaults.

Field names carry their units (``retry_interval_s``, ``memory_mb``); the HCL names are Nomad's
(``retry_interval``, ``memory``) and ``schema.py`` maps one to the other. Defaults that depend on the
machine or on other fields (the node name, the scheduler count, the addresses, the client's folders)
are filled in by ``load``, so every ``AgentConfig`` it returns is complete.
"""

from __future__ import annotations

import base64
import binascii

import msgspec

__all__ = [
    "ACLConfig",
    "Addresses",
    "Advertise",
    "AgentConfig",
    "ClientConfig",
    "DiskThreshold",
    "DockerConfig",
    "Plugins",
    "Ports",
    "RawExecConfig",
    "Reserved",
    "ServerConfig",
    "ServerJoin",
    "TLSConfig",
]

# Nomad's docker driver default for allow_caps: the capabilities Docker grants a container by default.
DOCKER_DEFAULT_CAPS = (
    "audit_write",
    "chown",
    "dac_override",
    "fowner",
    "fsetid",
    "kill",
    "mknod",
    "net_bind_service",
    "setfcap",
    "setgid",
    "setpcap",
    "setuid",
    "sys_chroot",
)
SCHEDULER_TYPES = ("service", "batch", "system", "sysbatch")


class _Frozen(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every config struct: immutable, keyword-only, and strict when converted from a dict."""


class Ports(_Frozen, frozen=True):
    http: int = 4646
    rpc: int = 4647
    serf: int = 4648


class Addresses(_Frozen, frozen=True):
    """Where each service binds; ``load`` fills empty ones from ``bind_addr``."""

    http: str = ""
    rpc: str = ""
    serf: str = ""


class Advertise(_Frozen, frozen=True):
    """Addresses other agents should use to reach this one; empty: the agent picks its bind address."""

    http: str = ""
    rpc: str = ""
    serf: str = ""


class ServerJoin(_Frozen, frozen=True):
    retry_join: tuple[str, ...] = ()
    retry_interval_s: float = 30.0
    retry_max: int = 0  # 0: retry forever


class ServerConfig(_Frozen, frozen=True):
    enabled: bool = False
    bootstrap_expect: int = 0
    server_join: ServerJoin = msgspec.field(default_factory=ServerJoin)
    heartbeat_grace_s: float = 10.0
    min_heartbeat_ttl_s: float = 10.0
    max_heartbeats_per_second: float = 50.0
    num_schedulers: int = 0  # load() sets the machine's CPU count
    enabled_schedulers: tuple[str, ...] = SCHEDULER_TYPES
    job_gc_interval_s: float = 300.0
    job_gc_threshold_s: float = 4 * 3600.0
    eval_gc_threshold_s: float = 3600.0
    deployment_gc_threshold_s: float = 3600.0
    node_gc_threshold_s: float = 24 * 3600.0
    encrypt: str = ""  # the cluster key, base64; never shown by repr

    def cluster_key(self) -> bytes | None:
        """The decoded cluster key, or None when none is configured (``load`` has checked it decodes)."""
        if not self.encrypt:
            return None
        try:
            return base64.b64decode(self.encrypt, validate=True)
        except binascii.Error:
            raise AssertionError("load() validates the key") from None

    def __repr__(self) -> str:
        shown = {f: getattr(self, f) for f in self.__struct_fields__}
        if shown["encrypt"]:
            shown["encrypt"] = "<hidden>"
        return "ServerConfig(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


class Reserved(_Frozen, frozen=True):
    """Resources kept back from scheduling on a client node."""

    cpu_mhz: int = 0
    memory_mb: int = 0
    disk_mb: int = 0
    reserved_ports: tuple[int, ...] = ()


class DiskThreshold(_Frozen, frozen=True):
    """Disk pressure: the data dir's free space is below ``percent`` of its disk, or below ``mb``
    (exactly one is non-zero). The default is a share, which suits any disk size, as the kubelet's
    ``nodefs.available`` does."""

    percent: float = 0.0
    mb: int = 0


class ClientConfig(_Frozen, frozen=True):
    enabled: bool = False
    servers: tuple[str, ...] = ()  # host:port, the port defaulted to 4647
    node_class: str = ""
    node_pool: str = "default"
    meta: dict[str, str] = msgspec.field(default_factory=dict)
    reserved: Reserved = msgspec.field(default_factory=Reserved)
    cpu_total_compute_mhz: int = 0  # 0: fingerprint it
    memory_total_mb: int = 0  # 0: fingerprint it
    disk_free_threshold: DiskThreshold = msgspec.field(default_factory=lambda: DiskThreshold(percent=5.0))
    max_kill_timeout_s: float = 30.0
    # Client garbage collection of finished allocations, as Nomad's: every gc_interval, the oldest
    # terminal ones go while the data dir's disk is fuller than gc_disk_usage_threshold percent or the
    # client holds more than gc_max_allocs allocations.
    gc_interval_s: float = 60.0
    gc_disk_usage_threshold: float = 80.0
    gc_max_allocs: int = 50
    alloc_dir: str = ""  # load() fills <data_dir>/alloc
    state_dir: str = ""  # load() fills <data_dir>/client


class RawExecConfig(_Frozen, frozen=True):
    enabled: bool = False


class DockerConfig(_Frozen, frozen=True):
    endpoint: str = "unix:///var/run/docker.sock"
    allow_privileged: bool = False
    allow_caps: tuple[str, ...] = DOCKER_DEFAULT_CAPS
    volumes_enabled: bool = False
    gc_image: bool = True
    gc_image_delay_s: float = 180.0
    gc_container: bool = True
    pull_activity_timeout_s: float = 120.0
    extra_labels: tuple[str, ...] = ()
    auth_config: str = ""
    auth_helper: str = ""
    disable_log_collection: bool = False


class Plugins(_Frozen, frozen=True):
    raw_exec: RawExecConfig = msgspec.field(default_factory=RawExecConfig)
    docker: DockerConfig = msgspec.field(default_factory=DockerConfig)


class ACLConfig(_Frozen, frozen=True):
    enabled: bool = False
    token_ttl_s: float = 30.0
    policy_ttl_s: float = 30.0
    role_ttl_s: float = 30.0


class TLSConfig(_Frozen, frozen=True):
    http: bool = False
    rpc: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    verify_server_hostname: bool = False
    verify_https_client: bool = False
    tls_min_version: str = "tls12"


class AgentConfig(_Frozen, frozen=True):
    """A complete agent configuration: files, then flags, over Nomad's defaults (or its dev defaults)."""

    region: str = "global"
    datacenter: str = "dc1"
    name: str = ""  # load() sets the host name
    data_dir: str = ""
    bind_addr: str = "0.0.0.0"
    log_level: str = "INFO"
    dev_mode: bool = False
    ports: Ports = msgspec.field(default_factory=Ports)
    addresses: Addresses = msgspec.field(default_factory=Addresses)
    advertise: Advertise = msgspec.field(default_factory=Advertise)
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    client: ClientConfig = msgspec.field(default_factory=ClientConfig)
    plugins: Plugins = msgspec.field(default_factory=Plugins)
    acl: ACLConfig = msgspec.field(default_factory=ACLConfig)
    tls: TLSConfig = msgspec.field(default_factory=TLSConfig)
    files: tuple[str, ...] = ()  # the configuration files read, in order
