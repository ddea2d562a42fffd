"""Shared set-up of the web tests: one real server process with a leader, and the gateway pointed at it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.server.endpoints import StatusLeaderResponse, StatusRequest
from cluster.errors import CaravanError
from tests.agents.server.support import KEY_B64, ServerCluster
from webui.gateway import gateway, reset_gateway

__all__ = ["one_server_gateway"]

LEADER_TIMEOUT_S = 30.0


@contextlib.contextmanager
def one_server_gateway(root: Path) -> Iterator[str]:
    """Starts one server agent process under ``root``, points the process's gateway at it
    (``CARAVAN_SERVERS``, ``CARAVAN_CLUSTER_KEY``) and yields its RPC address once it leads."""
    cluster = ServerCluster(root, count=1)
    address = cluster.servers[0].address
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARAVAN_SERVERS", address)
        mp.setenv("CARAVAN_CLUSTER_KEY", KEY_B64)
        reset_gateway()
        cluster.start()
        try:
            deadline = time.monotonic() + LEADER_TIMEOUT_S
            leader = ""
            while leader != address:
                assert time.monotonic() < deadline, f"no leader in {LEADER_TIMEOUT_S:.0f} s:\n{cluster.logs()}"
                time.sleep(0.1)
                with contextlib.suppress(CaravanError):
                    leader = gateway().call_sync("Status.Leader", StatusRequest(), StatusLeaderResponse).Leader
            yield address
        finally:
            reset_gateway()
            cluster.stop()
