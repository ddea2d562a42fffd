"""Task drivers: one interface (``base.Driver``), two drivers (``docker``, ``raw_exec``).

This package imports nothing heavy: the raw_exec executor process starts from it, and the docker
SDK is only loaded when a docker driver is made. ``new_driver`` builds a driver from the client's
``plugin "<name>" { config { ... } }``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.client.drivers.base import Driver

__all__ = ["DRIVER_NAMES", "new_driver"]

DRIVER_NAMES = ("docker", "raw_exec")


def new_driver(name: str, plugin_config: Mapping[str, Any] | None = None) -> Driver:
    """The driver ``name`` configured by its plugin config; ``KeyError`` for a driver Caravan lacks."""
    if name == "raw_exec":
        from agents.client.drivers.raw_exec import RawExecDriver

        return RawExecDriver(plugin_config)
    if name == "docker":
        from agents.client.drivers.docker import DockerDriver

        return DockerDriver(plugin_config)
    raise KeyError(f'no task driver "{name}" (Caravan has {", ".join(DRIVER_NAMES)})')
