"""One task's life on the fake driver: events, restarts, kill, templates, what gets persisted."""

from __future__ import annotations

import stat
from pathlib import Path

from agents.client.drivers.base import ExitResult
from agents.client.taskenv import TaskEnv
from cluster.structs import Artifact, Template
from cluster.structs.base import SECOND_NS
from tests.agents.client.harness import Harness, run, until
from tests.agents.client.support import Behaviour, make_alloc, make_task, policy


def test_batch_task_runs_to_completion(tmp_path: Path) -> None:
    async def scenario() -> None:
        task = make_task("web", Config={"command": "/bin/echo", "args": ["${NOMAD_ALLOC_INDEX}", "${attr.kernel.name}"]},
                         Env={"WHO": "${NOMAD_TASK_NAME}"})
        h = Harness(tmp_path, make_alloc(task, job_type="batch"))
        h.driver.plan("web", Behaviour(exit=ExitResult(0)))
        h.start()
        await h.finished()
        assert h.events("web") == ["Received", "Task Setup", "Started", "Terminated"]
        state = h.state("web")
        assert (state.State, state.Failed, state.Restarts) == ("dead", False, 0)
        assert state.StartedAt.year > 2000 and state.FinishedAt >= state.StartedAt
        assert [e.DisplayMessage for e in state.Events or []] == [
            "Task received by client", "Building Task Directory", "Task started by client", "Exit Code: 0"]
        config = h.driver.starts[0]
        assert config.config == {"command": "/bin/echo", "args": ["2", "linux"]}
        assert config.env["WHO"] == "web" and config.env["NOMAD_ALLOC_ID"] == h.runner.alloc.ID
        assert config.driver_dir == h.runner.alloc_dir.task_dir("web").private_dir
        final = h.last_reported()
        assert (final.ClientStatus, final.ClientDescription) == ("complete", "All tasks have completed")
        assert final.TaskStates is not None and final.TaskStates["web"].State == "dead"

    run(scenario())


def test_failing_task_restarts_per_policy_then_fails(tmp_path: Path) -> None:
    async def scenario() -> None:
        # A batch job: a service allocation also runs its health timer on the fake clock, whose sleeps this
        # test counts as restart delays.
        h = Harness(tmp_path, make_alloc(make_task("web"), job_type="batch", restart=policy(2, delay_s=10)))
        h.driver.plan("web", *[Behaviour(exit=ExitResult(1)) for _ in range(3)])
        h.start()
        await h.finished()
        state = h.state("web")
        assert len(h.driver.starts) == 3
        assert (state.State, state.Failed, state.Restarts) == ("dead", True, 2)
        assert h.events("web")[-2:] == ["Terminated", "Not Restarting"]
        assert (state.Events or [])[-1].DisplayMessage.startswith("Exceeded allowed attempts 2 in interval 10m0s")
        restarting = [e for e in state.Events or [] if e.Type == "Restarting"]
        assert all(10 * SECOND_NS <= e.StartDelay < 12.5 * SECOND_NS for e in restarting)
        assert [round(s * SECOND_NS) for s in h.clock.sleeps if s >= 10] == [e.StartDelay for e in restarting]
        assert h.last_reported().ClientStatus == "failed"

    run(scenario())


def test_restart_waits_show_as_pending_and_recoverable_start_errors_retry(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, make_alloc(make_task("web"), restart=policy(3, delay_s=1)))
        h.driver.plan("web", Behaviour(start_error="engine busy"), Behaviour())
        states: list[str] = []
        original = h.runner.runners["web"].on_change
        h.runner.runners["web"].on_change = lambda r: (states.append(r.state.State), original(r))  # type: ignore[method-assign]
        h.start()
        await until(lambda: h.state("web").State == "running")
        assert h.events("web")[-4:] == ["Task Setup", "Driver Failure", "Restarting", "Started"]
        assert (h.state("web").Events or [])[-3].DisplayMessage == "engine busy"
        assert "pending" in states and h.state("web").Restarts == 1
        await h.runner.stop()
        await h.finished()

    run(scenario())


def test_kill_uses_kill_signal_then_force_kills_after_kill_timeout(tmp_path: Path) -> None:
    async def scenario() -> None:
        task = make_task("web", KillSignal="SIGINT", KillTimeout=7 * SECOND_NS)
        h = Harness(tmp_path, make_alloc(task))
        h.driver.plan("web", Behaviour(ignores_signal=True))
        h.start()
        await until(lambda: h.status() == "running")
        stopped = h.runner.alloc.__class__(**{**{f: getattr(h.runner.alloc, f) for f in h.runner.alloc.__struct_fields__},
                                              "DesiredStatus": "stop"})
        h.runner.update(stopped)
        await h.finished()
        assert h.driver.stops == [("web", 7.0, "SIGINT")]
        assert 7.0 in h.clock.sleeps  # the driver waited the whole kill timeout before SIGKILL
        events = h.state("web").Events or []
        assert [e.Type for e in events][-2:] == ["Killing", "Killed"]
        assert events[-2].KillTimeout == 7 * SECOND_NS
        assert events[-2].DisplayMessage == "Sent interrupt. Waiting 7s before force killing"
        assert events[-1].DisplayMessage == "Task successfully killed"
        assert not h.state("web").Failed
        assert h.last_reported().ClientStatus == "complete"

    run(scenario())


def test_running_task_persists_its_handle_and_forgets_it_when_dead(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = Harness(tmp_path, make_alloc(make_task("web")))
        h.start()
        await until(lambda: h.status() == "running")
        record = h.client_state.get_task(h.runner.alloc.ID, "web")
        assert record is not None and record.handle is not None and record.state.State == "running"
        await h.runner.stop()
        await h.finished()
        record = h.client_state.get_task(h.runner.alloc.ID, "web")
        assert record is not None and record.handle is None and record.state.State == "dead"

    run(scenario())


def test_templates_render_into_the_task_dir_and_feed_env(tmp_path: Path) -> None:
    async def scenario() -> None:
        templates = [
            Template(EmbeddedTmpl='id={{ env "NOMAD_ALLOC_ID" }}{{/* a comment */}}\n{{- env "MISSING" }}\n',
                     DestPath="local/app.conf"),
            Template(EmbeddedTmpl="DB_PASS=hunter2\n# comment\nexport MODE='fast'\n", DestPath="${NOMAD_SECRETS_DIR}/x.env",
                     Envvars=True, Perms="0600"),
        ]
        h = Harness(tmp_path, make_alloc(make_task("web", Templates=templates), job_type="batch"))
        h.driver.plan("web", Behaviour(exit=ExitResult(0)))
        h.start()
        await h.finished()
        task_dir = h.runner.alloc_dir.task_dir("web")
        assert (task_dir.local_dir / "app.conf").read_text() == f"id={h.runner.alloc.ID}\n"
        secret = task_dir.secrets_dir / "x.env"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        env = h.driver.starts[0].env
        assert (env["DB_PASS"], env["MODE"]) == ("hunter2", "fast")
        assert "Template Rendered" in h.events("web")

    run(scenario())


def test_unsupported_template_fails_the_task_clearly(tmp_path: Path) -> None:
    async def scenario() -> None:
        templates = [Template(EmbeddedTmpl='{{ key "service/db" }}', DestPath="local/db")]
        h = Harness(tmp_path, make_alloc(make_task("web", Templates=templates)))
        h.start()
        await h.finished()
        assert h.driver.starts == []
        last = (h.state("web").Events or [])[-1]
        assert last.Type == "Setup Failure" and 'unsupported template action "key"' in last.DisplayMessage
        assert h.state("web").Failed and h.last_reported().ClientStatus == "failed"

    run(scenario())


def test_template_escaping_the_alloc_dir_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        templates = [Template(EmbeddedTmpl="x", DestPath="../../../../etc/evil")]
        h = Harness(tmp_path, make_alloc(make_task("web", Templates=templates)))
        h.start()
        await h.finished()
        assert "outside the allocation directory" in (h.state("web").Events or [])[-1].SetupError

    run(scenario())


def test_rerender_applies_change_mode(tmp_path: Path) -> None:
    async def scenario() -> None:
        templates = [
            Template(EmbeddedTmpl='{{ env "LEVEL" }}', DestPath="local/signal.conf", ChangeMode="signal",
                     ChangeSignal="SIGUSR1"),
            Template(EmbeddedTmpl='{{ env "LEVEL" }}', DestPath="local/restart.conf", ChangeMode="restart"),
            Template(EmbeddedTmpl='{{ env "OTHER" }}', DestPath="local/same.conf", ChangeMode="restart"),
        ]
        h = Harness(tmp_path, make_alloc(make_task("web", Templates=templates, Env={"LEVEL": "1"})))
        h.start()
        await until(lambda: h.status() == "running")
        runner = h.runner.runners["web"]
        runner.env = TaskEnv({**runner.env.env, "LEVEL": "2"}, runner.env.node)
        await runner.rerender_templates()
        await until(lambda: len(h.driver.starts) == 2 and h.state("web").State == "running")
        assert h.driver.signals == [("web", "SIGUSR1")]
        assert (h.runner.alloc_dir.task_dir("web").local_dir / "restart.conf").read_text() == "2"
        types = h.events("web")
        assert "Signaling" in types and "Restart Signaled" in types
        assert h.state("web").Restarts == 1
        await h.runner.stop()
        await h.finished()

    run(scenario())


def test_artifacts_fail_with_a_clear_error(tmp_path: Path) -> None:
    async def scenario() -> None:
        task = make_task("web", Artifacts=[Artifact(GetterSource="https://example.com/app.tgz")])
        h = Harness(tmp_path, make_alloc(task))
        h.start()
        await h.finished()
        last = (h.state("web").Events or [])[-1]
        assert last.Type == "Failed Artifact Download" and "not supported" in last.DisplayMessage
        assert h.driver.starts == [] and h.status() == "failed"

    run(scenario())


def test_restart_renders_templates_again_when_the_policy_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        template = Template(EmbeddedTmpl='{{ env "LEVEL" }}', DestPath="local/level", ChangeMode="noop")
        restart = policy(2, delay_s=1)
        restart.RenderTemplates = True
        h = Harness(tmp_path, make_alloc(make_task("web", Templates=[template], Env={"LEVEL": "1"}), restart=restart))
        h.start()
        await until(lambda: h.status() == "running")
        runner = h.runner.runners["web"]
        runner.env = TaskEnv({**runner.env.env, "LEVEL": "2"}, runner.env.node)
        h.driver.exit("web", ExitResult(1))
        await until(lambda: len(h.driver.starts) == 2 and h.state("web").State == "running")
        assert (h.runner.alloc_dir.task_dir("web").local_dir / "level").read_text() == "2"
        await h.runner.stop()
        await h.finished()

    run(scenario())
