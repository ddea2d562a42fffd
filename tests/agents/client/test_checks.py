"""Service checks against real sockets on loopback and the fake driver's exec."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from agents.client.checks import CRITICAL, PASSING, WARNING, CheckResult, CheckRunner, worst_status
from agents.client.drivers.base import PortMapping, TaskHandle
from agents.client.taskenv import TaskEnv
from cluster.structs import Service, ServiceCheck
from cluster.structs.base import MILLISECOND_NS, SECOND_NS
from tests.agents.client.harness import Harness, run, until
from tests.agents.client.support import FakeClock, FakeDriver, make_alloc, make_task

ENV = TaskEnv({"NOMAD_ALLOC_ID": "abc"})


class Server:
    """A tiny HTTP server: /ok 200, /busy 429, anything else 500; /hang never answers."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.released = asyncio.Event()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._answer(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # a tcp check connects and hangs up; a timed-out check hangs up early
        finally:
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.requests.append(head)
        path = head.split(b" ")[1]
        if path.startswith(b"/hang"):
            await self.released.wait()
        code = {b"/ok": b"200 OK", b"/busy": b"429 Too Many Requests"}.get(path.split(b"?")[0], b"500 Oops")
        writer.write(b"HTTP/1.1 " + code + b"\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()

    async def stop(self) -> None:
        assert self.server is not None
        self.released.set()
        self.server.close()
        await self.server.wait_closed()


def runner(check: ServiceCheck, port: int, results: list[CheckResult], **kw: object) -> CheckRunner:
    service = Service(Name="web", PortLabel="http", Checks=[check])
    return CheckRunner(check=check, service=service, ports=[PortMapping("http", port)], env=ENV,
                       clock=FakeClock(), on_result=results.append, **kw)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_check_statuses() -> None:
    async def scenario() -> None:
        server = Server()
        port = await server.start()
        results: list[CheckResult] = []
        statuses = []
        for path in ("/ok?id=${NOMAD_ALLOC_ID}", "/busy", "/missing"):
            check = ServiceCheck(Name="alive", Type="http", Path=path, Header={"X-Probe": ["1"]}, Timeout=SECOND_NS)
            statuses.append((await runner(check, port, results).run_once()).status)
        assert statuses == [PASSING, WARNING, CRITICAL]
        assert b"GET /ok?id=abc HTTP/1.1" in server.requests[0] and b"X-Probe: 1" in server.requests[0]
        assert "hello" in results[0].output and results[0].check_id == "web/alive"
        await server.stop()

    run(scenario())


def test_http_check_times_out() -> None:
    async def scenario() -> None:
        server = Server()
        port = await server.start()
        check = ServiceCheck(Name="slow", Type="http", Path="/hang", Timeout=100 * MILLISECOND_NS)
        result = await runner(check, port, []).run_once()
        assert result.status == CRITICAL and "TimeoutError" in result.output
        await server.stop()

    run(scenario())


def test_tcp_check() -> None:
    async def scenario() -> None:
        server = Server()
        port = await server.start()
        check = ServiceCheck(Name="port", Type="tcp", Timeout=SECOND_NS)
        assert (await runner(check, port, []).run_once()).status == PASSING
        assert (await runner(check, free_port(), []).run_once()).status == CRITICAL
        await server.stop()

    run(scenario())


def test_unknown_port_label_is_critical_with_a_clear_message() -> None:
    async def scenario() -> None:
        check = ServiceCheck(Name="port", Type="tcp", PortLabel="admin")
        result = await runner(check, 1, []).run_once()
        assert result.status == CRITICAL and 'unknown port "admin"' in result.output

    run(scenario())


def test_script_check_runs_in_the_task() -> None:
    async def scenario() -> None:
        driver = FakeDriver(FakeClock())
        from agents.client.drivers.base import TaskConfig

        handle = await driver.start(TaskConfig(alloc_id="a", task_name="web", config={}, alloc_dir=Path("/x"),
                                               task_dir=Path("/x"), driver_dir=Path("/x")))
        current: list[TaskHandle | None] = [handle]
        ok = ServiceCheck(Name="s", Type="script", Command="/bin/check", Args=["${NOMAD_ALLOC_ID}"])
        warn = ServiceCheck(Name="s", Type="script", Command="false")
        assert (await runner(ok, 0, [], driver=driver, handle=lambda: current[0]).run_once()).status == PASSING
        assert driver.execs[-1] == ["/bin/check", "abc"]
        assert (await runner(warn, 0, [], driver=driver, handle=lambda: current[0]).run_once()).status == WARNING
        current[0] = None
        assert (await runner(ok, 0, [], driver=driver, handle=lambda: current[0]).run_once()).status == CRITICAL

    run(scenario())


def test_thresholds_hold_a_status_back() -> None:
    async def scenario() -> None:
        server = Server()
        port = await server.start()
        check = ServiceCheck(Name="p", Type="tcp", SuccessBeforePassing=2, FailuresBeforeCritical=2, Timeout=SECOND_NS)
        r = runner(check, port, [])
        assert [(await r.run_once()).status for _ in range(2)] == [CRITICAL, PASSING]
        r.ports = [PortMapping("http", free_port())]
        assert [(await r.run_once()).status for _ in range(2)] == [PASSING, CRITICAL]
        await server.stop()

    run(scenario())


def test_worst_status() -> None:
    def result(status: str) -> CheckResult:
        return CheckResult(status, "web", status, status, "", 0)

    assert worst_status({"a": result(PASSING), "b": result(WARNING)}) == WARNING
    assert worst_status({"a": result(CRITICAL), "b": result(WARNING)}) == CRITICAL
    assert worst_status({"a": result(PASSING)}) == PASSING


def test_task_checks_run_while_the_task_runs(tmp_path: Path) -> None:
    async def scenario() -> None:
        check = ServiceCheck(Name="exec", Type="script", Command="/bin/true", Interval=10 * SECOND_NS)
        task = make_task("web", Services=[Service(Name="web", Checks=[check])])
        h = Harness(tmp_path, make_alloc(task))
        h.start()
        await until(lambda: len(h.driver.execs) >= 3)
        assert h.runner.checks["web/exec"].status == PASSING
        assert 10.0 in h.clock.sleeps  # checks wait their interval between runs
        await h.runner.stop()
        await h.finished()
        runs = len(h.driver.execs)
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(h.driver.execs) == runs  # no checks once the task is dead

    run(scenario())
