"""Three server agents in this process (fast Raft timers): the leader loops follow leadership.

What an operator notices: only the leader schedules and tracks heartbeats; when leadership moves, the
old leader stops its loops, the new one starts them rebuilt from the replicated state (its broker
holds the pending evaluations, its heartbeat timers the live nodes), and work registered afterwards
is scheduled by the new leader.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from agents.config import load
from agents.rpc import Role
from agents.server.agent import ServerAgent
from agents.server.endpoints import (
    JobRegisterRequest,
    JobRegisterResponse,
    NodeRegisterRequest,
    NodeUpdateResponse,
)
from agents.server.raft_runtime import RuntimeConfig
from tests.agents.server.support import KEY, free_ports, pool, server_hcl
from tests.unit.scheduler import factories

FAST_RAFT = RuntimeConfig(cluster_key=KEY, tick_ms=10, election_ticks=10)


async def leading(agents: list[ServerAgent]) -> ServerAgent:
    """The one agent whose leader loops run, once exactly one runs them."""
    async with asyncio.timeout(10):
        while True:
            running = [a for a in agents if a.loops is not None and a.loops.running]
            if len(running) == 1 and running[0].is_leader():
                return running[0]
            await asyncio.sleep(0.01)


async def scenario(root: Path) -> None:
    ports = free_ports(9)
    join = [f"127.0.0.1:{p}" for p in ports[:3]]
    agents = []
    for i in range(3):
        path = root / f"s{i + 1}.hcl"
        path.write_text(server_hcl(f"s{i + 1}", root / f"s{i + 1}", ports[i], ports[3 + i], ports[6 + i], join, 3,
                                   ttl="30s", grace="30s"))
        agents.append(ServerAgent(load(["-server", "-config", str(path)]).config, raft=FAST_RAFT))
    web, client = pool(Role.WEB, "web"), pool(Role.CLIENT, "node-1")
    try:
        await asyncio.gather(*(a.start() for a in agents))
        first = await leading(agents)
        node = factories.node(name="node-1", drivers=("raw_exec",))
        await client.call(agents[0].member.RPCAddr, "Node.Register", NodeRegisterRequest(Node=node),
                          NodeUpdateResponse, timeout_s=5)
        assert first.loops is not None and len(first.loops.heartbeats) == 1

        other = next(a for a in agents if a is not first)
        assert first.runtime is not None
        await first.runtime.transfer_leadership(other.member.Name, timeout_s=5)
        second = await leading(agents)
        assert second is other
        assert first.loops is not None and not first.loops.running
        assert second.loops is not None and len(second.loops.heartbeats) == 1  # rebuilt from state

        job = factories.job("after", count=2, driver="raw_exec")
        await web.call(first.member.RPCAddr, "Job.Register", JobRegisterRequest(Job=job), JobRegisterResponse,
                       timeout_s=5)
        workers = second.loops.workers
        assert workers is not None
        async with asyncio.timeout(10):
            while workers.processed < 1:  # counted once the evaluation is acked
                await asyncio.sleep(0.02)
        assert len(second.fsm.store.snapshot().allocs_by_job("default", "after")) == 2
        assert workers.processed == 1
        assert second.loops.applier.applied == 1 and first.loops.applier.applied == 0
    finally:
        await web.close()
        await client.close()
        for agent in agents:
            await agent.stop()


def test_leader_loops_move_with_leadership(tmp_path: Path) -> None:
    asyncio.run(asyncio.wait_for(scenario(tmp_path), 40))
