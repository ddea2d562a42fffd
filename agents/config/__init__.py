"""The agent configuration: Nomad's agent files in HCL and its flags, to one typed ``AgentConfig``.

    loaded = load(["-config", "/etc/caravan.d", "-bootstrap-expect", "3", "-server"])
    loaded.config.server.bootstrap_expect          # 3
    loaded.warnings                                # Nomad settings Caravan ignores, positioned

Files use Nomad's names (``data_dir``, ``server { bootstrap_expect ... }``, ``plugin "docker" { config
{ ... } }``); the struct fields carry units in their names (``retry_interval_s``, ``memory_mb``). Files
merge in order, later values winning and lists appending, and flags win over files. ``-dev`` starts
from Nomad's dev defaults. Every problem, from any file or flag, is raised at once as a ``ConfigError``
whose diagnostics name the file, line and field, or the flag.

``HostFacts`` is what the defaults take from the machine (its hostname and CPU count), injected by tests;
the client's full fingerprint of a machine is ``agents.client.fingerprint.MachineFacts``.

The cluster key (``server.encrypt`` or ``-encrypt``) authenticates RPC when TLS is off, so clients
need it too; ``ServerConfig.cluster_key()`` decodes it, and no repr or message shows it.
"""

from __future__ import annotations

from agents.config.errors import ConfigError
from agents.config.flags import FLAGS, ParsedFlags, parse_flags
from agents.config.load import HostFacts, Loaded, config_files, load
from agents.config.model import (
    ACLConfig,
    Addresses,
    Advertise,
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

__all__ = [
    "FLAGS",
    "ACLConfig",
    "Addresses",
    "Advertise",
    "AgentConfig",
    "ClientConfig",
    "ConfigError",
    "DiskThreshold",
    "DockerConfig",
    "HostFacts",
    "Loaded",
    "ParsedFlags",
    "Plugins",
    "Ports",
    "RawExecConfig",
    "Reserved",
    "ServerConfig",
    "ServerJoin",
    "TLSConfig",
    "config_files",
    "load",
    "parse_flags",
]
