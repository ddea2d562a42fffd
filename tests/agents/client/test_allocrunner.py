"""An allocation's tasks in lifecycle order, its client status, stops and reattachment after a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from agents.client.allocrunner import client_status
from agents.client.drivers.base import ExitResult
from cluster.errors import InvalidInput
from cluster.structs import Allocation, TaskState
from tests.agents.client.harness import Harness, run, until
from tests.agents.client.support import Behaviour, FakeMachine, make_alloc, make_task, policy


def stopped(alloc: Allocation) -> Allocation:
    return msgspec.structs.replace(alloc, DesiredStatus="stop")


def lifecycle_alloc(job_type: str = "batch") -> Allocation:
    return make_alloc(
        make_task("init", hook="prestart"), make_task("proxy", hook="prestart", sidecar=True), make_task("web"),
        make_task("announce", hook="poststart"), make_task("cleanup", hook="poststop"),
        job_type=job_type, restart=policy(0),
    )


def test_lifecycle_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, lifecycle_alloc())
        for name in ("init", "announce", "cleanup"):
            h.driver.plan(name, Behaviour(exit=ExitResult(0)))
        h.start()
        await until(lambda: h.driver.running("web") is not None and h.state("announce").State == "dead")
        assert h.driver.log == ["start init", "start proxy", "start web", "start announce"]
        assert h.status() == "running"
        h.driver.exit("web", ExitResult(0))
        await h.finished()
        assert h.driver.log[4:] == ["stop proxy", "start cleanup"]
        for name in ("init", "proxy", "web", "announce", "cleanup"):
            assert h.state(name).State == "dead" and not h.state(name).Failed, name
        assert h.events("proxy")[-2:] == ["Killing", "Killed"]
        assert h.last_reported().ClientStatus == "complete"

    run(scenario())


def test_main_tasks_wait_for_the_prestart_task(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, lifecycle_alloc())
        h.driver.plan("cleanup", Behaviour(exit=ExitResult(0)))
        h.start()
        await until(lambda: h.driver.running("proxy") is not None and h.driver.running("init") is not None)
        for _ in range(50):
            await asyncio.sleep(0)
        assert h.driver.running("web") is None and h.state("web").State == "pending"
        assert h.status() == "running"  # the sidecar and the prestart task run
        h.driver.exit("init", ExitResult(0))
        await until(lambda: h.driver.running("web") is not None)
        await h.runner.stop()
        await h.finished()

    run(scenario())


def test_failed_prestart_fails_the_allocation_and_main_never_starts(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, lifecycle_alloc())
        h.driver.plan("init", Behaviour(exit=ExitResult(3)))
        h.driver.plan("cleanup", Behaviour(exit=ExitResult(0)))
        h.start()
        await h.finished()
        assert "start web" not in h.driver.log
        assert h.state("init").Failed
        assert h.events("web")[-1] == "Sibling Task Failed"
        assert (h.state("web").Events or [])[-1].DisplayMessage == "Task's sibling 'init' failed"
        assert h.events("proxy")[-3:] == ["Sibling Task Failed", "Killing", "Killed"]
        assert h.driver.log[-1] == "start cleanup"  # poststop still runs
        final = h.last_reported()
        assert (final.ClientStatus, final.ClientDescription) == ("failed", "Failed tasks")

    run(scenario())


def test_failed_main_task_kills_its_siblings(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, make_alloc(make_task("web"), make_task("worker"), restart=policy(0)))
        h.start()
        await until(lambda: h.status() == "running" and h.driver.running("worker") is not None)
        h.driver.exit("worker", ExitResult(2))
        await h.finished()
        assert h.events("worker")[-2:] == ["Terminated", "Not Restarting"]
        assert h.events("web")[-3:] == ["Sibling Task Failed", "Killing", "Killed"]
        assert not h.state("web").Failed
        assert h.last_reported().ClientStatus == "failed"

    run(scenario())


def test_leader_death_stops_the_others(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, make_alloc(make_task("main", leader=True), make_task("logshipper"), job_type="batch"))
        h.start()
        await until(lambda: h.driver.running("logshipper") is not None and h.driver.running("main") is not None)
        h.driver.exit("main", ExitResult(0))
        await h.finished()
        assert h.events("logshipper")[-3:] == ["Leader Task Dead", "Killing", "Killed"]
        assert h.last_reported().ClientStatus == "complete"

    run(scenario())


def test_stop_kills_leader_first_then_others_then_sidecars_then_poststop(tmp_path: Path) -> None:
    async def scenario() -> None:
        alloc = make_alloc(make_task("proxy", hook="prestart", sidecar=True), make_task("web", leader=True),
                           make_task("worker"), make_task("cleanup", hook="poststop"))
        h = Harness(tmp_path, alloc)
        h.driver.plan("cleanup", Behaviour(exit=ExitResult(0)))
        h.start()
        await until(lambda: h.driver.running("worker") is not None and h.driver.running("web") is not None)
        h.runner.update(stopped(alloc))
        await h.finished()
        assert h.driver.log[-4:] == ["stop web", "stop worker", "stop proxy", "start cleanup"]
        assert h.last_reported().ClientStatus == "complete"

    run(scenario())


def test_an_allocation_stopped_before_it_ran_starts_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, stopped(make_alloc(make_task("web"))))
        h.start()
        await h.finished()
        assert h.driver.starts == []
        assert h.state("web").State == "dead" and h.last_reported().ClientStatus == "complete"

    run(scenario())


def test_restarted_client_reattaches_without_starting_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        machine = FakeMachine()
        first = Harness(tmp_path, make_alloc(make_task("web"), make_task("worker")), machine=machine)
        first.start()
        await until(lambda: first.status() == "running" and first.driver.running("worker") is not None)
        await first.runner.detach()
        assert first.driver.running("web") is not None  # the tasks outlive the client

        second = Harness(tmp_path, machine=machine, clock=first.clock)  # built from the client's state only
        second.start()
        await until(lambda: sorted(second.driver.recovered) == ["web", "worker"])
        assert second.driver.starts == []
        assert second.status() == "running"
        assert second.state("web").Restarts == 0 and second.events("web")[-1] == "Started"
        second.driver.exit("worker", ExitResult(1))  # the reattached task is really watched
        await until(lambda: second.state("worker").Restarts == 1 and second.state("worker").State == "running")
        await second.runner.stop()
        await second.finished()
        assert second.last_reported().ClientStatus == "complete"

    run(scenario())


def test_reattach_to_a_task_that_is_gone_starts_it_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = Harness(tmp_path, make_alloc(make_task("web")))
        first.start()
        await until(lambda: first.status() == "running")
        await first.runner.detach()
        second = Harness(tmp_path, machine=FakeMachine(), clock=first.clock)  # the host rebooted
        second.start()
        await until(lambda: len(second.driver.starts) == 1 and second.status() == "running")
        driver_events = [e for e in second.state("web").Events or [] if e.Type == "Driver"]
        assert driver_events and "could not reattach" in driver_events[0].DisplayMessage
        await second.runner.stop()
        await second.finished()

    run(scenario())


def test_updates_are_batched_and_end_with_the_final_state(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, make_alloc(make_task("a"), make_task("b"), make_task("c"), job_type="batch"))
        for name in "abc":
            h.driver.plan(name, Behaviour(exit=ExitResult(0)))
        h.start()
        await h.finished()
        events = sum(len(h.state(n).Events or []) for n in "abc")
        assert len(h.updates) < events
        final = h.last_reported()
        assert final.ClientStatus == "complete" and final.Job is None
        assert final.TaskStates is not None and sorted(final.TaskStates) == ["a", "b", "c"]
        assert all(s.State == "dead" for s in final.TaskStates.values())
        assert h.updates[0].ClientStatus in ("pending", "running")

    run(scenario())


def test_missing_driver_is_refused_up_front(tmp_path: Path) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidInput, match='needs driver "docker"'):
            Harness(tmp_path, make_alloc(make_task("web", driver="docker")))

    run(scenario())


@pytest.mark.parametrize(("states", "expected"), [
    ({"a": "pending", "b": "pending"}, "pending"),
    ({"a": "running", "b": "pending"}, "running"),
    ({"a": "dead", "b": "running"}, "running"),
    ({"a": "dead", "b": "dead"}, "complete"),
    ({"a": "dead!", "b": "running"}, "failed"),
])
def test_client_status(states: dict[str, str], expected: str) -> None:
    given = {k: TaskState(State=v.rstrip("!"), Failed=v.endswith("!")) for k, v in states.items()}
    assert client_status(given)[0] == expected


def test_reattached_task_keeps_its_template_env_for_later_restarts(tmp_path: Path) -> None:
    async def scenario() -> None:
        from cluster.structs import Template

        machine = FakeMachine()
        template = Template(EmbeddedTmpl="TOKEN=t0k3n\n", DestPath="secrets/t.env", Envvars=True)
        first = Harness(tmp_path, make_alloc(make_task("web", Templates=[template])), machine=machine)
        first.start()
        await until(lambda: first.status() == "running")
        await first.runner.detach()
        second = Harness(tmp_path, machine=machine, clock=first.clock)
        second.start()
        await until(lambda: second.driver.recovered == ["web"])
        second.driver.exit("web", ExitResult(1))
        await until(lambda: len(second.driver.starts) == 1)
        assert second.driver.starts[0].env["TOKEN"] == "t0k3n"
        await second.runner.stop()
        await second.finished()

    run(scenario())
