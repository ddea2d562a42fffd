"""Service checks run by the client (Nomad's built-in service provider): http, tcp and script.

A check's status is what Nomad and Consul call it: ``passing``, ``warning`` or ``critical``.
- **http**: a request to the service's address; a 2xx answer passes, 429 (Too Many Requests)
  warns, anything else or no answer within ``timeout`` is critical.
- **tcp**: a connection within ``timeout`` passes, otherwise critical.
- **script**: the command runs inside the task through the driver's ``exec``; exit 0 passes, 1
  warns, anything else (or a timeout) is critical.

``success_before_passing`` and ``failures_before_critical`` / ``failures_before_warning`` hold a
status back until that many results in a row agree, so one slow answer does not flap the service.
This module only reports statuses (``on_result``); deciding that an allocation is healthy (every
check passing for ``min_healthy_time``) is the deployment watcher's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from agents.client.drivers.base import Driver, PortMapping, TaskHandle
from agents.client.taskenv import TaskEnv
from cluster.errors import CaravanError, InvalidInput
from cluster.structs import Service, ServiceCheck
from cluster.structs.base import SECOND_NS

__all__ = ["CRITICAL", "PASSING", "WARNING", "CheckResult", "CheckRunner", "check_address", "worst_status"]

PASSING, WARNING, CRITICAL = "passing", "warning", "critical"
DEFAULT_INTERVAL_S = 10.0
DEFAULT_TIMEOUT_S = 2.0
MAX_OUTPUT_BYTES = 4096  # what of a check's output is kept, as Consul bounds it


class Clock(Protocol):
    """The runners' clock (``taskrunner.Clock``), restated here so this module does not import it."""

    def now_ns(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's current status, with the output of the run that set it."""

    check_id: str
    service: str
    name: str
    status: str
    output: str
    timestamp_ns: int


def check_address(check: ServiceCheck, service: Service, ports: Sequence[PortMapping]) -> tuple[str, int]:
    """The host and port a network check talks to: the check's port label, else the service's; a
    label may also be a plain port number (then the first port's address is used)."""
    label = check.PortLabel or service.PortLabel
    if not label:
        raise InvalidInput(f'check "{check.Name}" of service "{service.Name}" has no port')
    for port in ports:
        if port.label == label:
            return port.host_ip, port.value
    if label.isdigit():
        return (ports[0].host_ip if ports else "127.0.0.1"), int(label)
    raise InvalidInput(f'check "{check.Name}" of service "{service.Name}" names unknown port "{label}"')


class _Threshold:
    """Holds a new status back until enough results in a row agree (Nomad's check thresholds)."""

    def __init__(self, check: ServiceCheck, initial: str) -> None:
        self.needed = {PASSING: max(1, check.SuccessBeforePassing), WARNING: max(1, check.FailuresBeforeWarning),
                       CRITICAL: max(1, check.FailuresBeforeCritical)}
        self.status = initial
        self.streak_status = initial
        self.streak = 0

    def observe(self, status: str) -> str:
        if status == self.streak_status:
            self.streak += 1
        else:
            self.streak_status, self.streak = status, 1
        if self.streak >= self.needed[status]:
            self.status = status
        return self.status


class CheckRunner:
    """Runs one check every ``interval`` until cancelled, reporting each status through ``on_result``."""

    def __init__(
        self,
        *,
        check: ServiceCheck,
        service: Service,
        ports: Sequence[PortMapping],
        env: TaskEnv,
        clock: Clock,
        on_result: Callable[[CheckResult], None],
        driver: Driver | None = None,
        handle: Callable[[], TaskHandle | None] | None = None,
    ) -> None:
        assert check.Type in ("http", "tcp", "script"), f"check type {check.Type} is not run by the client"
        self.check, self.service, self.ports, self.env = check, service, ports, env
        self.clock, self.on_result, self.driver, self.handle = clock, on_result, driver, handle
        self.check_id = f"{service.Name}/{check.Name or check.Type}"
        self.threshold = _Threshold(check, check.InitialStatus or CRITICAL)
        self.interval_s = check.Interval / SECOND_NS if check.Interval else DEFAULT_INTERVAL_S
        self.timeout_s = check.Timeout / SECOND_NS if check.Timeout else DEFAULT_TIMEOUT_S

    async def run(self) -> None:
        while True:
            await self.run_once()
            await self.clock.sleep(self.interval_s)

    async def run_once(self) -> CheckResult:
        """Runs the check once and reports the status it leads to (after thresholds)."""
        try:
            raw, output = await self._probe()
        except (OSError, TimeoutError, CaravanError, ssl.SSLError) as e:
            raw, output = CRITICAL, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        status = self.threshold.observe(raw)
        result = CheckResult(self.check_id, self.service.Name, self.check.Name, status, output[:MAX_OUTPUT_BYTES],
                             self.clock.now_ns())
        self.on_result(result)
        return result

    async def _probe(self) -> tuple[str, str]:
        if self.check.Type == "script":
            return await self._script()
        host, port = check_address(self.check, self.service, self.ports)
        if self.check.Type == "tcp":
            return await self._tcp(host, port)
        return await self._http(host, port)

    async def _tcp(self, host: str, port: int) -> tuple[str, str]:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.timeout_s)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return PASSING, f"TCP connect {host}:{port}: Success"

    async def _http(self, host: str, port: int) -> tuple[str, str]:
        return await asyncio.wait_for(self._http_exchange(host, port), self.timeout_s)

    async def _http_exchange(self, host: str, port: int) -> tuple[str, str]:
        path = self.env.interpolate(self.check.Path or "/")
        target = urlsplit(path)
        request_path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        context = None
        if self.check.Protocol == "https":
            context = ssl.create_default_context()
            if self.check.TLSSkipVerify:
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        server_hostname = (self.check.TLSServerName or host) if context else None
        reader, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=server_hostname)
        try:
            writer.write(self._request_bytes(host, port, request_path))
            await writer.drain()
            status_line = (await reader.readline()).decode("latin-1").strip()
            body = await reader.read(MAX_OUTPUT_BYTES)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            return CRITICAL, f"invalid HTTP answer: {status_line!r}"
        code = int(parts[1])
        text = body.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")
        output = f"HTTP {self.check.Method or 'GET'} {request_path}: {code} {parts[2] if len(parts) > 2 else ''} Output: {text}"
        if 200 <= code < 300:
            return PASSING, output
        return (WARNING if code == 429 else CRITICAL), output

    def _request_bytes(self, host: str, port: int, path: str) -> bytes:
        body = self.check.Body.encode()
        headers: dict[str, list[str]] = {"Host": [f"{host}:{port}"], "User-Agent": ["Caravan Health Check"],
                                         "Accept": ["text/plain, text/*, */*"], "Connection": ["close"]}
        headers.update({k: list(v) for k, v in (self.check.Header or {}).items()})
        if body:
            headers["Content-Length"] = [str(len(body))]
        lines = [f"{self.check.Method or 'GET'} {path} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, values in headers.items() for value in values]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def _script(self) -> tuple[str, str]:
        handle = self.handle() if self.handle else None
        if self.driver is None or handle is None:
            return CRITICAL, "the task is not running"
        command = [self.env.interpolate(self.check.Command), *(self.env.interpolate(a) for a in self.check.Args or [])]
        result = await self.driver.exec(handle, command, timeout_s=self.timeout_s)
        output = (result.stdout + result.stderr).decode(errors="replace")
        status = PASSING if result.exit_code == 0 else WARNING if result.exit_code == 1 else CRITICAL
        return status, output


def worst_status(results: Mapping[str, CheckResult]) -> str:
    """The worst status of a set of checks: what a service (and its allocation's health) shows."""
    found = {r.status for r in results.values()}
    for status in (CRITICAL, WARNING):
        if status in found:
            return status
    return PASSING
