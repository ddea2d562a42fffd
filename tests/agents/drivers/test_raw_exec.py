"""The raw_exec driver with real processes: what a user of ``driver = "raw_exec"`` would notice."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from agents.client.drivers import new_driver
from agents.client.drivers.base import (
    DriverDisabled,
    DriverError,
    InvalidTaskConfig,
    LogRotation,
    PortMapping,
    TaskConfig,
    TaskNotFound,
    TaskStartError,
)
from agents.client.drivers.logs import log_files
from agents.client.drivers.procstat import ProcessIdentity
from agents.client.drivers.raw_exec import RawExecDriver
from cluster.errors import InvalidInput
from tests.agents.drivers.conftest import MakeTask, eventually, read_log

ROOT = Path(__file__).resolve().parents[3]


def sh(script: str) -> dict[str, object]:
    return {"command": "/bin/sh", "args": ["-c", script]}


def enabled() -> RawExecDriver:
    return RawExecDriver({"enabled": True})


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_disabled_by_default_and_refuses_to_start(make_task: MakeTask) -> None:
    async def scenario() -> None:
        driver = RawExecDriver()
        info = await driver.fingerprint()
        assert not info.Detected and not info.Healthy
        assert "enabled = true" in info.HealthDescription
        with pytest.raises(DriverDisabled):
            await driver.start(make_task(sh("true")))

    asyncio.run(scenario())


def test_plugin_config_mistakes_and_the_driver_registry() -> None:
    with pytest.raises(InvalidInput, match='unknown raw_exec plugin option "enable"'):
        RawExecDriver({"enable": True})
    with pytest.raises(InvalidInput, match="must be a bool"):
        RawExecDriver({"enabled": "true"})
    driver = new_driver("raw_exec", {"enabled": True})
    assert isinstance(driver, RawExecDriver) and driver.enabled
    assert new_driver("docker").capabilities.fs_isolation == "image"
    with pytest.raises(KeyError, match="no task driver"):
        new_driver("java")


def test_enabled_fingerprint() -> None:
    info = asyncio.run(enabled().fingerprint())
    assert info.Detected and info.Healthy
    assert info.Attributes == {"driver.raw_exec": "1"}


def test_exit_codes_reach_the_caller(make_task: MakeTask) -> None:
    async def scenario() -> None:
        driver = enabled()
        failing = await driver.start(make_task(sh("exit 3")))
        passing = await driver.start(make_task(sh("true")))
        failed, passed = await driver.wait(failing), await driver.wait(passing)
        assert (failed.exit_code, failed.signal, failed.successful) == (3, 0, False)
        assert passed.successful
        status = await driver.inspect(failing)
        assert status.state == "exited" and status.exit_result == failed
        assert status.completed_at_s >= status.started_at_s > 0

    asyncio.run(scenario())


def test_env_working_dir_ports_and_denied_envvars(make_task: MakeTask) -> None:
    task = make_task(
        {**sh('echo "greeting=$GREETING secret=$SECRET_TOKEN port=$NOMAD_PORT_http '
              'addr=$NOMAD_ADDR_http"; pwd'),
         "work_dir": "local", "denied_envvars": ["SECRET_*"]},
        env={"PATH": "/usr/bin:/bin", "GREETING": "hello", "SECRET_TOKEN": "s3cr3t"},
        ports=(PortMapping("http", 25001, to=80, host_ip="10.1.2.3"),),
    )

    async def scenario() -> None:
        driver = enabled()
        assert (await driver.wait(await driver.start(task))).successful

    asyncio.run(scenario())
    first, cwd = read_log(task).splitlines()
    # Host networking: the task must bind the host port, so NOMAD_PORT_ is the host port, not "to".
    assert first == "greeting=hello secret= port=25001 addr=10.1.2.3:25001"
    assert cwd == str(task.local_dir.resolve())


def test_stdout_and_stderr_go_to_separate_rotated_files(make_task: MakeTask) -> None:
    # 2.5 MB to stdout with 1 MB files and max_files 2: files 0 and 1 fill, 2 gets the rest, 0 is deleted.
    task = make_task(sh("head -c 2621440 /dev/zero | tr '\\0' o; echo oops >&2"),
                     logs=LogRotation(max_files=2, max_file_size_mb=1))

    async def scenario() -> None:
        driver = enabled()
        assert (await driver.wait(await driver.start(task))).successful

    asyncio.run(scenario())
    names = sorted(p.name for p in task.log_dir.iterdir())
    assert names == ["web.stderr.0", "web.stdout.1", "web.stdout.2"]
    assert (task.log_dir / "web.stdout.1").stat().st_size == 1024 * 1024
    assert (task.log_dir / "web.stdout.2").read_bytes() == b"o" * (512 * 1024)
    assert read_log(task, "stderr") == "oops\n"


def test_stop_sends_the_kill_signal_first(make_task: MakeTask) -> None:
    task = make_task(sh('trap "echo got-int; exit 0" INT; echo ready; while :; do sleep 0.05; done'),
                     kill_signal="SIGINT")

    async def scenario() -> None:
        driver = enabled()
        handle = await driver.start(task)
        await eventually(lambda: "ready" in read_log(task))
        await driver.stop(handle)
        result = await driver.wait(handle)
        assert result.successful, result
        assert "got-int" in read_log(task)

    asyncio.run(scenario())


def test_stop_kills_a_task_that_ignores_the_signal_after_the_timeout(make_task: MakeTask) -> None:
    task = make_task(sh('trap "" TERM; echo ready; while :; do sleep 0.05; done'), kill_timeout_s=0.5)

    async def scenario() -> None:
        driver = enabled()
        handle = await driver.start(task)
        await eventually(lambda: "ready" in read_log(task))
        began = time.monotonic()
        await driver.stop(handle)
        took = time.monotonic() - began
        result = await driver.wait(handle)
        assert (result.exit_code, result.signal) == (128 + signal.SIGKILL, signal.SIGKILL)
        assert 0.5 <= took < 5

    asyncio.run(scenario())


def test_stop_kills_the_whole_process_group(make_task: MakeTask) -> None:
    task = make_task(sh("sleep 300 & echo $! > child.pid; echo ready; sleep 300"))

    async def scenario() -> None:
        driver = enabled()
        handle = await driver.start(task)
        await eventually(lambda: "ready" in read_log(task))
        child = int((task.task_dir / "child.pid").read_text())
        assert not gone(child)
        await driver.stop(handle, timeout_s=2)
        assert (await driver.wait(handle)).signal == signal.SIGTERM
        await eventually(lambda: gone(child), timeout_s=2)

    asyncio.run(scenario())


def test_leftover_children_die_with_the_main_process(make_task: MakeTask) -> None:
    # The background child keeps stdout open: the task must still end when its main process does.
    task = make_task(sh("sleep 300 & echo $! > child.pid; exit 4"))

    async def scenario() -> None:
        driver = enabled()
        handle = await driver.start(task)
        result = await asyncio.wait_for(driver.wait(handle), 10)
        assert result.exit_code == 4
        await eventually(lambda: gone(int((task.task_dir / "child.pid").read_text())), timeout_s=2)

    asyncio.run(scenario())


def test_signal_reaches_the_task(make_task: MakeTask) -> None:
    task = make_task(sh('trap "echo reload" HUP; echo ready; while :; do sleep 0.05; done'))

    async def scenario() -> None:
        driver = enabled()
        handle = await driver.start(task)
        await eventually(lambda: "ready" in read_log(task))
        await driver.signal(handle, "SIGHUP")
        await eventually(lambda: "reload" in read_log(task))
        await driver.stop(handle, timeout_s=2)

    asyncio.run(scenario())


def test_stats_cover_the_process_tree(make_task: MakeTask) -> None:
    task = make_task(sh("sleep 300 & while :; do :; done"))

    async def scenario() -> None:
        driver = enabled()
        handle = await driver.start(task)
        await eventually(lambda: len(psutil.Process(int(handle.state["task"]["pid"])).children()) == 1)
        usage = await driver.stats(handle)
        assert usage.pids == 2
        assert usage.memory_rss_bytes > 0

        async def busy() -> bool:  # a busy loop shows once the kernel has counted some ticks
            return (await driver.stats(handle)).cpu_percent > 20

        await eventually(busy)
        await driver.stop(handle, timeout_s=2)
        with pytest.raises(DriverError, match="not running"):
            await driver.stats(handle)

    asyncio.run(scenario())


def test_exec_runs_in_the_task_environment(make_task: MakeTask) -> None:
    task = make_task(sh("sleep 300"), env={"PATH": "/usr/bin:/bin", "GREETING": "hi"})

    async def scenario() -> None:
        driver = enabled()
        handle = await driver.start(task)
        result = await driver.exec(handle, ["/bin/sh", "-c", 'echo "$GREETING"; pwd; echo err >&2; exit 2'])
        expected = (2, f"hi\n{task.task_dir.resolve()}\n".encode(), b"err\n")
        assert (result.exit_code, result.stdout, result.stderr) == expected
        on_tty = await driver.exec(handle, ["/bin/sh", "-c", "test -t 1 && echo on-a-terminal"], tty=True)
        assert (on_tty.exit_code, on_tty.stdout.strip()) == (0, b"on-a-terminal")
        with pytest.raises(DriverError, match="timed out"):
            await driver.exec(handle, ["sleep", "5"], timeout_s=0.2)
        await driver.stop(handle, timeout_s=2)

    asyncio.run(scenario())


def test_bad_config_and_missing_command_are_clear_errors(make_task: MakeTask) -> None:
    async def scenario() -> None:
        driver = enabled()
        with pytest.raises(InvalidTaskConfig) as bad:
            await driver.start(make_task({"args": ["x"], "comand": "true"}))
        assert [p.key for p in bad.value.problems] == ["", "comand"]
        assert 'did you mean "command"' in str(bad.value)
        with pytest.raises(TaskStartError, match="no-such-program"):
            await driver.start(make_task({"command": "no-such-program"}))

    asyncio.run(scenario())


def test_destroy_refuses_a_running_task_unless_forced(make_task: MakeTask) -> None:
    async def scenario() -> None:
        driver = enabled()
        handle = await driver.start(make_task(sh("sleep 300")))
        with pytest.raises(DriverError, match="still running"):
            await driver.destroy(handle)
        await driver.destroy(handle, force=True)
        assert gone(int(handle.state["task"]["pid"]))
        with pytest.raises(TaskNotFound):
            await driver.inspect(handle)

    asyncio.run(scenario())


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may run tasks as another user")
def test_runs_as_the_task_user(make_task: MakeTask) -> None:
    with tempfile.TemporaryDirectory() as shared:  # pytest's tmp_path is closed to other users
        root = Path(shared)
        root.chmod(0o755)
        task = make_task(sh("id -u; id -g; pwd"), user="nobody", task_dir=root / "web",
                         alloc_dir=root / "alloc", driver_dir=root / "driver")
        task.task_dir.mkdir()

        async def scenario() -> None:
            driver = enabled()
            handle = await driver.start(task)
            assert (await driver.wait(handle)).successful
            who = await driver.exec(handle, ["id", "-un"])
            assert who.stdout == b"nobody\n"

        asyncio.run(scenario())
        nobody = pwd.getpwnam("nobody")
        assert read_log(task).split() == [str(nobody.pw_uid), str(nobody.pw_gid), str(task.task_dir)]
        with pytest.raises(TaskStartError, match='user "no-such-user" does not exist'):
            asyncio.run(enabled().start(make_task(sh("true"), user="no-such-user")))


# -- client restarts -------------------------------------------------------------------------------

CLIENT = """
import asyncio, json, sys
from pathlib import Path
from agents.client.drivers.base import LogRotation, TaskConfig
from agents.client.drivers.raw_exec import RawExecDriver

spec = json.loads(sys.argv[1])
task = TaskConfig(alloc_id=spec["alloc_id"], task_name="web", config=spec["config"],
                  alloc_dir=Path(spec["alloc_dir"]), task_dir=Path(spec["task_dir"]),
                  driver_dir=Path(spec["driver_dir"]), env={"PATH": "/usr/bin:/bin"},
                  logs=LogRotation(max_files=2, max_file_size_mb=1), kill_timeout_s=2.0)

async def main():
    handle = await RawExecDriver({"enabled": True}).start(task)
    print(json.dumps(handle.state), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def start_in_a_client_that_dies(task: TaskConfig) -> dict[str, object]:
    """Starts the task from another process (the client), which is then SIGKILLed: the task's executor
    loses its parent, as when a real client crashes. Returns the handle state the client persisted."""
    spec = {"alloc_id": task.alloc_id, "config": dict(task.config), "alloc_dir": str(task.alloc_dir),
            "task_dir": str(task.task_dir), "driver_dir": str(task.driver_dir)}
    client = subprocess.Popen([sys.executable, "-c", CLIENT, json.dumps(spec)], stdout=subprocess.PIPE,
                              cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert client.stdout is not None
    line = client.stdout.readline()
    client.kill()
    client.wait()
    client.stdout.close()
    state: dict[str, object] = json.loads(line)
    return state


def test_recovered_task_keeps_running_rotating_and_can_be_stopped(make_task: MakeTask) -> None:
    # ~4 MB/s of output with 1 MB files: rotation goes on only if the executor outlived the client.
    task = make_task(sh("echo started; while :; do head -c 200000 /dev/zero | tr '\\0' x; sleep 0.05; done"))

    async def scenario() -> None:
        state = start_in_a_client_that_dies(task)
        task_pid = int(state["task"]["pid"])  # type: ignore[index]
        driver = enabled()
        handle = await driver.recover(json.loads(json.dumps(state)))
        assert (await driver.inspect(handle)).state == "running"
        assert handle.state["task"]["pid"] == task_pid  # the same process: not restarted
        index_at_recovery = max(i for i, _ in _stdout_files(task))
        await eventually(lambda: max(i for i, _ in _stdout_files(task)) >= index_at_recovery + 2)
        assert len(_stdout_files(task)) <= 2
        await driver.stop(handle)
        result = await driver.wait(handle)
        assert result.signal == signal.SIGTERM
        assert gone(task_pid)

    asyncio.run(scenario())


def _stdout_files(task: TaskConfig) -> list[tuple[int, Path]]:
    return log_files(task.log_dir, "web.stdout")


def test_exit_while_the_client_was_down_is_not_lost(make_task: MakeTask) -> None:
    task = make_task(sh("sleep 0.2; exit 7"))

    async def scenario() -> None:
        state = start_in_a_client_that_dies(task)
        await eventually(lambda: (task.driver_dir / "exit.json").exists())
        driver = enabled()
        handle = await driver.recover(state)
        assert (await driver.wait(handle)).exit_code == 7
        assert (await driver.inspect(handle)).state == "exited"

    asyncio.run(scenario())


def test_a_recycled_pid_is_never_adopted(make_task: MakeTask) -> None:
    task = make_task(sh("exit 0"))

    async def scenario() -> None:
        driver = enabled()
        handle = await driver.start(task)
        await driver.wait(handle)
        state = json.loads(json.dumps(handle.state))
        (task.driver_dir / "exit.json").unlink()
        # A stranger now holds the pids the state names (as after pid reuse), with its own start time.
        stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
        try:
            assert ProcessIdentity.of(stranger.pid).start_time_s != state["task"]["start_time_s"]
            state["executor"]["pid"] = state["task"]["pid"] = stranger.pid
            with pytest.raises(TaskNotFound, match="executor is gone"):
                await enabled().recover(state)
            assert stranger.poll() is None  # neither adopted nor killed
        finally:
            stranger.kill()
            stranger.wait()

    asyncio.run(scenario())
