"""The runtime's leadership listeners, which the server agent uses instead of polling for leadership.

What the agent relies on: every runtime reports each new leader once, as soon as it learns of it, at the
first election as well as on a transfer.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from agents.server.raft_runtime import RaftRuntime
from tests.agents.test_raft_runtime_cluster import Cluster, Journal, run


def test_listeners_hear_the_first_leader_and_each_transfer(tmp_path: Path) -> None:
    async def scenario(cluster: Cluster) -> None:
        heard: dict[str, list[str]] = {i: [] for i in ("a", "b", "c")}
        for node_id in ("a", "b", "c"):
            fsm = Journal()
            runtime = RaftRuntime(node_id, cluster.peers, cluster.root / node_id, fsm, cluster.config)
            runtime.leadership_listeners.append(heard[node_id].append)  # before start: nothing is missed
            await runtime.start()
            cluster.nodes[node_id], cluster.fsms[node_id] = runtime, fsm
        first = await cluster.leader()
        assert all(h and h[-1] == first.node_id for h in heard.values())

        target = next(i for i in ("a", "b", "c") if i != first.node_id)
        await first.transfer_leadership(target)
        await cluster.leader()
        async with asyncio.timeout(5):
            while any(h[-1] != target for h in heard.values()):
                await asyncio.sleep(0.01)
        for h in heard.values():
            assert all(x != y for x, y in itertools.pairwise(h))  # one call per change

    run(tmp_path, scenario)
