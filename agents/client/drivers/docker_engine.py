"""Blocking calls to the Docker engine for the docker driver, each with the SDK's errors turned into the
driver's typed errors (``engine_error`` says what the engine said, without the HTTP noise).

The SDK client connects lazily (``version="auto"`` asks the engine which API version to speak, so an
older engine works) and is shared by all threads; its connection pool is sized for a log stream pair
and a wait per task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.utils import parse_repository_tag

from agents.client.drivers.base import DriverError, ExecResult, ImagePullError, TaskStartError, in_thread
from agents.client.drivers.docker_config import (
    LABEL_ALLOC_ID,
    LABEL_TASK_NAME,
    pull_timeout_s,
    registry_auth,
)
from agents.client.drivers.docker_logs import parse_timestamp_ns

__all__ = ["Engine", "engine_error"]

DEFAULT_ENDPOINT = "unix:///var/run/docker.sock"
REQUEST_TIMEOUT_S = 60
MAX_POOL_SIZE = 256
WAIT_RETRIES = 5
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def engine_error(error: BaseException) -> str:
    if isinstance(error, docker.errors.APIError) and error.explanation:
        return str(error.explanation)
    return str(error) or type(error).__name__


def _check_unix_socket(endpoint: str) -> None:
    """Fails early, with the reason, when a unix-socket engine does not answer: the SDK would leave
    the failed socket open (a ResourceWarning) and bury the reason in a long message."""
    if not endpoint.startswith(("unix://", "http+unix://")):
        return
    path = endpoint.split("://", 1)[1]
    try:
        with socket.socket(socket.AF_UNIX) as probe:
            probe.settimeout(5)
            probe.connect(path)
    except OSError as e:
        raise DriverError(f"cannot connect to {endpoint}: {e.strerror or e}") from None


def _pinned(image: str) -> bool:
    """Whether the reference names one image for good: a tag other than latest, or a digest."""
    _, tag = parse_repository_tag(image)
    return bool(tag) and tag != "latest"


class Engine:
    """One Docker engine, reached at ``endpoint`` ("" = ``DOCKER_HOST`` or the default socket)."""

    def __init__(self, endpoint: str = "") -> None:
        self.endpoint = endpoint
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                options: dict[str, Any] = {"version": "auto", "timeout": REQUEST_TIMEOUT_S,
                                           "max_pool_size": MAX_POOL_SIZE}
                _check_unix_socket(self.endpoint or os.environ.get("DOCKER_HOST") or DEFAULT_ENDPOINT)
                try:
                    if self.endpoint:
                        self._client = docker.DockerClient(base_url=self.endpoint, **options)
                    else:
                        self._client = docker.from_env(**options)
                except ENGINE_ERRORS as e:
                    raise DriverError(engine_error(e)) from None
            return self._client

    def close(self) -> None:
        """Closes the connections; the next call connects again."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    @property
    def api(self) -> Any:
        """The SDK's low-level client (connects first if needed)."""
        return self.client.api

    def facts(self) -> dict[str, str]:
        try:
            version = self.client.version()
            info = self.client.info()
        except ENGINE_ERRORS as e:
            raise DriverError(engine_error(e)) from None
        return {"version": str(version.get("Version", "")), "os_type": str(version.get("Os", "linux")),
                "runtimes": ",".join(sorted(info.get("Runtimes") or {}))}

    # -- images -----------------------------------------------------------------------------------

    async def ensure_image(self, config: Mapping[str, Any], task_dir: Path) -> None:
        """Makes the task's image present: loads ``load``, or pulls when absent, forced or unpinned."""
        image = str(config["image"])
        if config.get("load"):
            await asyncio.to_thread(self._load, task_dir / str(config["load"]), image)
            return
        present = await asyncio.to_thread(self._has_image, image)
        if present and _pinned(image) and not config.get("force_pull"):
            return
        timeout_s = pull_timeout_s(config)
        pull = in_thread(lambda: self._pull(image, registry_auth(config), bool(config.get("auth_soft_fail"))),
                         name=f"pull {image}")
        try:
            await asyncio.wait_for(pull, timeout_s)
        except TimeoutError:
            raise ImagePullError(f'pulling image "{image}" took longer than {timeout_s:g}s '
                                 "(image_pull_timeout)") from None

    def _has_image(self, image: str) -> bool:
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            return False
        except ENGINE_ERRORS as e:
            raise DriverError(engine_error(e)) from None
        return True

    def _pull(self, image: str, auth: dict[str, str] | None, auth_soft_fail: bool) -> None:
        repository, tag = parse_repository_tag(image)
        try:
            self.client.images.pull(repository, tag=tag or "latest", auth_config=auth)
        except ENGINE_ERRORS as e:
            if auth and auth_soft_fail:
                self._pull(image, None, False)
                return
            raise ImagePullError(f'failed to pull image "{image}": {engine_error(e)}') from None

    def _load(self, tarball: Path, image: str) -> None:
        try:
            with open(tarball, "rb") as f:
                self.client.images.load(f)
        except OSError as e:
            raise ImagePullError(f'cannot load image "{image}" from {tarball}: {e.strerror}') from None
        except ENGINE_ERRORS as e:
            raise ImagePullError(f'cannot load image "{image}" from {tarball}: {engine_error(e)}') from None
        if not self._has_image(image):
            raise ImagePullError(f'{tarball} does not contain image "{image}"')

    # -- containers -------------------------------------------------------------------------------

    def create_and_start(self, settings: dict[str, Any]) -> tuple[str, float]:
        """Creates and starts the container; a leftover of the same name (a client that died while
        starting this task) is removed first. Returns the id and the start time (Unix seconds)."""
        try:
            try:
                container = self.client.containers.create(**settings)
            except docker.errors.APIError as e:
                if e.status_code != 409:
                    raise
                self.remove(settings["name"])
                container = self.client.containers.create(**settings)
        except ENGINE_ERRORS as e:
            raise TaskStartError(f"cannot create container: {engine_error(e)}") from None
        try:
            container.start()
            container.reload()
        except ENGINE_ERRORS as e:
            self.remove(container.id)
            raise TaskStartError(f"cannot start container: {engine_error(e)}") from None
        return container.id, parse_timestamp_ns(container.attrs["State"]["StartedAt"]) / 1e9

    def find(self, container_id: str, alloc_id: str, task_name: str) -> tuple[str, float] | None:
        """The task's container, by id or else by Caravan's labels (the newest if several)."""
        labels = {LABEL_ALLOC_ID: alloc_id, LABEL_TASK_NAME: task_name}
        try:
            candidates = []
            if container_id:
                with contextlib.suppress(docker.errors.NotFound):
                    candidates = [self.api.inspect_container(container_id)]
            if not candidates:
                selector = [f"{k}={v}" for k, v in labels.items()]
                listed = self.api.containers(all=True, filters={"label": selector})
                candidates = [self.api.inspect_container(c["Id"]) for c in listed]
        except ENGINE_ERRORS as e:
            raise DriverError(engine_error(e)) from None
        mine = [c for c in candidates if all(c["Config"]["Labels"].get(k) == v for k, v in labels.items())]
        if not mine:
            return None
        newest = max(mine, key=lambda c: c["Created"])
        return newest["Id"], parse_timestamp_ns(newest["State"]["StartedAt"]) / 1e9

    def wait(self, container_id: str) -> dict[str, Any]:
        """Blocks until the container has stopped; its exit code, OOM flag, finish time and error.
        A broken connection (the engine restarting) is retried a few times before giving up."""
        for attempt in range(WAIT_RETRIES):
            try:
                status = self.api.wait(container_id)
                state = self.api.inspect_container(container_id)["State"]
            except docker.errors.NotFound:
                return {"exit_code": -1, "error": f"container {container_id[:12]} was removed"}
            except ENGINE_ERRORS as e:
                if attempt == WAIT_RETRIES - 1:
                    return {"exit_code": -1, "error": f"lost the engine while waiting: {engine_error(e)}"}
                time.sleep(1.0)
                continue
            error = (status.get("Error") or {}).get("Message") or state.get("Error", "")
            return {"exit_code": status["StatusCode"], "oom_killed": state.get("OOMKilled", False),
                    "finished_at": state.get("FinishedAt", ""), "error": error}
        raise AssertionError("unreachable")

    def kill(self, container_id: str, signal: str) -> bool:
        """Sends a signal; False when the container is not running (or gone)."""
        try:
            self.api.kill(container_id, signal=signal)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as e:
            if e.status_code == 409:
                return False
            raise DriverError(f"cannot signal container: {engine_error(e)}") from None
        except ENGINE_ERRORS as e:
            raise DriverError(f"cannot signal container: {engine_error(e)}") from None
        return True

    def is_running(self, container_id: str) -> bool:
        try:
            return bool(self.api.inspect_container(container_id)["State"]["Running"])
        except docker.errors.NotFound:
            return False
        except ENGINE_ERRORS as e:
            raise DriverError(engine_error(e)) from None

    def remove(self, container_id: str) -> None:
        try:
            self.api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except ENGINE_ERRORS as e:
            raise DriverError(f"cannot remove container: {engine_error(e)}") from None

    def stats(self, container_id: str) -> dict[str, Any] | None:
        """One sample from the engine, or None when the container is not running."""
        if not self.is_running(container_id):
            return None
        one_shot = docker.utils.version_gte(self.api.api_version, "1.41") or None
        try:
            sample: dict[str, Any] = self.api.stats(container_id, stream=False, one_shot=one_shot)
        except docker.errors.NotFound:
            return None
        except ENGINE_ERRORS as e:
            raise DriverError(engine_error(e)) from None
        return sample

    def exec(self, container_id: str, cmd: list[str], tty: bool) -> ExecResult:
        try:
            exec_id = self.api.exec_create(container_id, cmd, tty=tty)["Id"]
            output = self.api.exec_start(exec_id, tty=tty, demux=not tty)
            exit_code = self.api.exec_inspect(exec_id)["ExitCode"]
        except ENGINE_ERRORS as e:
            raise DriverError(f"exec of {cmd[0]} failed: {engine_error(e)}") from None
        if tty:
            return ExecResult(int(exit_code), output or b"")
        stdout, stderr = output
        return ExecResult(int(exit_code), stdout or b"", stderr or b"")
