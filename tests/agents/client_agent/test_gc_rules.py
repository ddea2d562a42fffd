"""Which kept allocations a client may destroy (no servers needed): finished ones the servers no longer
list, never a live one, never one whose final state the servers have not heard yet."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agents.client.agent import ClientAgent
from agents.client.allocdir import AllocDir
from agents.client.state import TaskRecord
from agents.config import load
from cluster.structs import Allocation, TaskState
from tests.agents.client.support import make_alloc, make_task
from tests.agents.client_agent.support import client_hcl


def _agent(tmp_path: Path) -> ClientAgent:
    hcl = tmp_path / "c.hcl"
    hcl.write_text(client_hcl("c1", tmp_path / "data", ["127.0.0.1:1"], 1))
    return ClientAgent(load(["-client", "-config", str(hcl)]).config)


def _keep(agent: ClientAgent, alloc_id: str, state: str, finished_s: int) -> Allocation:
    alloc = make_alloc(make_task("web"), alloc_id=alloc_id)
    agent.state.put_alloc(alloc)
    finished = datetime.fromtimestamp(finished_s, tz=UTC)
    agent.state.put_task(alloc_id, "web", TaskRecord(state=TaskState(State=state, FinishedAt=finished)))
    AllocDir(agent.data_dir, alloc_id).build(["web"])
    return alloc


def test_finished_allocations_the_servers_dropped_are_destroyed(tmp_path: Path) -> None:
    agent = _agent(tmp_path)
    done = _keep(agent, "a0000000-0000-4000-8000-000000000001", "dead", 100)
    live = _keep(agent, "a0000000-0000-4000-8000-000000000002", "running", 0)
    listed_done = _keep(agent, "a0000000-0000-4000-8000-000000000003", "dead", 200)
    unsent = _keep(agent, "a0000000-0000-4000-8000-000000000004", "dead", 300)
    agent._queue_update(unsent)
    assert agent.forget_removed([listed_done]) == [done.ID]
    assert not AllocDir(agent.data_dir, done.ID).exists()
    assert sorted(a.ID for a in agent.state.allocs()) == sorted([live.ID, listed_done.ID, unsent.ID])
    agent._reconcile([done])
    assert done.ID not in agent.runners
