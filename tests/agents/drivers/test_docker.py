"""The docker driver against a real engine and the locally built busybox image (no registry)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import docker
import pytest

from agents.client.drivers.base import (
    DriverError,
    ImagePullError,
    InvalidTaskConfig,
    PortMapping,
    TaskConfig,
    TaskNotFound,
)
from agents.client.drivers.docker import DockerDriver
from agents.client.drivers.docker_config import LABEL_ALLOC_ID, LABEL_TASK_NAME
from tests.agents.drivers.conftest import MakeTask, eventually, read_log


@pytest.fixture
def image(docker_test_image: str, docker_engine: docker.DockerClient, alloc_ids: list[str]) -> Iterator[str]:
    """The test image; afterwards, the containers of this test's allocations are removed (only those:
    tests in other workers run theirs meanwhile)."""
    yield docker_test_image
    for alloc_id in alloc_ids:
        selector = f"{LABEL_ALLOC_ID}={alloc_id}"
        for container in docker_engine.containers.list(all=True, filters={"label": selector}):
            container.remove(force=True)


NewDriver = Callable[..., DockerDriver]


@pytest.fixture
def new_driver() -> Iterator[NewDriver]:
    """Docker drivers (plugin config as keywords), shut down after the test, as a client would."""
    drivers: list[DockerDriver] = []

    def make(**plugin_config: Any) -> DockerDriver:
        drivers.append(DockerDriver(plugin_config))
        return drivers[-1]

    yield make
    for driver in drivers:
        asyncio.run(driver.shutdown())


def sh(image: str, script: str) -> dict[str, object]:
    return {"image": image, "command": "sh", "args": ["-c", script]}


def containers_of(engine: docker.DockerClient, task: TaskConfig) -> list[object]:
    selector = f"{LABEL_ALLOC_ID}={task.alloc_id}"
    found: list[object] = engine.containers.list(all=True, filters={"label": selector})
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_fingerprint_reports_the_engine(docker_engine: docker.DockerClient, new_driver: NewDriver) -> None:
    info = asyncio.run(new_driver().fingerprint())
    assert info.Detected and info.Healthy, info.HealthDescription
    assert info.Attributes is not None
    assert info.Attributes["driver.docker.version"] == docker_engine.version()["Version"]
    assert info.Attributes["driver.docker.privileged.enabled"] == "false"


def test_fingerprint_without_an_engine_is_undetected(new_driver: NewDriver) -> None:
    info = asyncio.run(new_driver(endpoint="unix:///nonexistent/docker.sock").fingerprint())
    assert not info.Detected and not info.Healthy
    assert info.HealthDescription.startswith("Failed to connect to docker daemon")


def test_exit_code_and_logs_to_files(
    make_task: MakeTask, image: str, docker_engine: docker.DockerClient, new_driver: NewDriver
) -> None:
    task = make_task(sh(image, 'echo "out $NOMAD_TASK_DIR"; echo err >&2; exit 3'))

    async def scenario() -> None:
        driver = new_driver()
        handle = await driver.start(task)
        result = await driver.wait(handle)
        assert (result.exit_code, result.oom_killed, result.error) == (3, False, "")
        status = await driver.inspect(handle)
        assert status.state == "exited" and status.exit_result == result
        container = docker_engine.containers.get(handle.state["container_id"])
        assert container.name == f"web-{task.alloc_id}"
        assert container.labels[LABEL_ALLOC_ID] == task.alloc_id
        assert container.labels[LABEL_TASK_NAME] == "web"
        await driver.destroy(handle)
        assert not containers_of(docker_engine, task)

    asyncio.run(scenario())
    assert read_log(task, "stdout") == "out /local\n"
    assert read_log(task, "stderr") == "err\n"


def test_ports_in_host_networking(make_task: MakeTask, image: str, new_driver: NewDriver) -> None:
    port = free_port()
    task = make_task({**sh(image, 'echo "port=$NOMAD_PORT_http" ; echo hello | nc -l -p "$NOMAD_PORT_http"'),
                      "ports": ["http"]},
                     ports=(PortMapping("http", port, to=8080, host_ip="127.0.0.1"),))

    def answered() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                return conn.recv(100) == b"hello\n"
        except OSError:
            return False

    async def scenario() -> None:
        driver = new_driver()
        handle = await driver.start(task)
        # The container shares the host's network: it listens on the host port itself.
        await eventually(lambda: asyncio.to_thread(answered))
        await asyncio.wait_for(driver.wait(handle), 10)

    asyncio.run(scenario())
    assert read_log(task) == f"port={port}\n"


def test_stop_signal_then_kill_after_the_timeout(
    make_task: MakeTask, image: str, new_driver: NewDriver
) -> None:
    polite = make_task(sh(image, 'trap "echo bye; exit 0" TERM; echo ready; while :; do sleep 0.05; done'))
    stubborn = make_task(sh(image, 'trap "" TERM; echo ready; while :; do sleep 0.05; done'),
                         kill_timeout_s=1.0)

    async def scenario() -> None:
        driver = new_driver()
        handles = [await driver.start(polite), await driver.start(stubborn)]
        await eventually(lambda: "ready" in read_log(polite) and "ready" in read_log(stubborn))
        await driver.stop(handles[0])
        assert (await driver.wait(handles[0])).successful
        began = time.monotonic()
        await driver.stop(handles[1])
        assert 1.0 <= time.monotonic() - began < 10
        assert (await driver.wait(handles[1])).exit_code == 137

    asyncio.run(scenario())
    assert read_log(polite) == "ready\nbye\n"


def test_recover_by_label_resumes_logs_without_gaps_or_repeats(
    make_task: MakeTask, image: str, new_driver: NewDriver
) -> None:
    task = make_task(sh(image, "i=0; while :; do echo line $i; i=$((i+1)); sleep 0.02; done"))

    def numbers() -> list[int]:
        return [int(line.split()[1]) for line in read_log(task).splitlines()]

    async def scenario() -> None:
        first = new_driver()
        handle = await first.start(task)
        await eventually(lambda: len(numbers()) >= 10)
        state = dict(handle.state)
        await first.shutdown()  # the client goes away; the container keeps running
        written_before = len(numbers())
        # A stale container id (say, the state was saved before a restart of the task): labels find it.
        state["container_id"] = "0" * 64
        second = new_driver()
        recovered = await second.recover(state)
        assert recovered.state["container_id"] == handle.state["container_id"]
        await eventually(lambda: len(numbers()) >= written_before + 20)
        await second.stop(recovered, timeout_s=0.5)
        await second.wait(recovered)
        await second.destroy(recovered)
        with pytest.raises(TaskNotFound):
            await new_driver().recover(state)

    asyncio.run(scenario())
    lines = numbers()
    assert lines == list(range(len(lines)))


def test_stats_from_the_engine(make_task: MakeTask, image: str, new_driver: NewDriver) -> None:
    task = make_task(sh(image, "sleep 300 & while :; do :; done"))

    async def scenario() -> None:
        driver = new_driver()
        handle = await driver.start(task)

        async def busy() -> bool:
            usage = await driver.stats(handle)
            return usage.cpu_percent > 20 and usage.pids == 2 and usage.memory_usage_bytes > 0

        await eventually(busy)
        await driver.stop(handle, timeout_s=0.2)
        with pytest.raises(DriverError, match="not running"):
            await driver.stats(handle)

    asyncio.run(scenario())


def test_exec_through_the_engine(make_task: MakeTask, image: str, new_driver: NewDriver) -> None:
    task = make_task(sh(image, "sleep 300"), env={"GREETING": "hi"})
    (task.local_dir / "hello.txt").write_text("from the host\n")

    async def scenario() -> None:
        driver = new_driver()
        handle = await driver.start(task)
        script = 'echo "$GREETING"; cat /local/hello.txt; echo e >&2; exit 5'
        result = await driver.exec(handle, ["sh", "-c", script])
        assert (result.exit_code, result.stdout, result.stderr) == (5, b"hi\nfrom the host\n", b"e\n")
        on_tty = await driver.exec(handle, ["sh", "-c", "test -t 1 && echo on-a-terminal"], tty=True)
        assert (on_tty.exit_code, on_tty.stdout.strip()) == (0, b"on-a-terminal")
        await driver.stop(handle, timeout_s=0.2)

    asyncio.run(scenario())


def test_an_image_that_cannot_be_pulled_is_a_clear_error(
    make_task: MakeTask, image: str, new_driver: NewDriver
) -> None:
    # A registry on a closed local port: fails at once, whatever the network of the machine.
    missing = "127.0.0.1:1/caravan-test/absent:1"

    async def scenario() -> None:
        with pytest.raises(ImagePullError, match=f'failed to pull image "{missing}"'):
            await new_driver().start(make_task({"image": missing}))

    asyncio.run(scenario())


def test_config_the_client_does_not_allow_is_refused(
    make_task: MakeTask, image: str, new_driver: NewDriver
) -> None:
    async def scenario() -> None:
        driver = new_driver()
        task = make_task({"image": image, "privileged": True, "ports": ["db"], "network_mode": "bridge"})
        with pytest.raises(InvalidTaskConfig) as refused:
            await driver.start(task)
        assert sorted(p.key for p in refused.value.problems) == ["network_mode", "privileged"]
        with pytest.raises(InvalidTaskConfig, match='port label "db"'):
            await driver.start(make_task({"image": image, "ports": ["db"]}))

    asyncio.run(scenario())


def test_start_fails_cleanly_when_the_command_does_not_exist(
    make_task: MakeTask, image: str, docker_engine: docker.DockerClient, new_driver: NewDriver
) -> None:
    task: TaskConfig = make_task({"image": image, "command": "/no/such/program"})

    async def scenario() -> None:
        with pytest.raises(DriverError, match="cannot start container"):
            await new_driver().start(task)

    asyncio.run(scenario())
    assert not containers_of(docker_engine, task)
