"""Shared fixtures of the driver tests: task configs in a fresh alloc dir, and the Docker engine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import psutil
import pytest

from agents.client.drivers.base import LogRotation, TaskConfig
from tests.agents.docker_support import docker_engine, docker_test_image

__all__ = ["MakeTask", "docker_engine", "docker_test_image", "eventually", "read_log"]


class MakeTask(Protocol):
    def __call__(self, config: dict[str, Any], **overrides: Any) -> TaskConfig: ...


def _kill_tasks_under(directory: Path) -> None:
    """Kills the process group of every process working under ``directory``: a failed test must not
    leave its tasks running (their executors then exit by themselves)."""
    for process in psutil.process_iter():
        try:
            cwd = Path(process.cwd())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if cwd.is_relative_to(directory):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(process.pid)
                if group != os.getpgrp():
                    os.killpg(group, signal.SIGKILL)


@pytest.fixture
def alloc_ids() -> list[str]:
    """The allocations ``make_task`` made in this test (their containers are the test's to remove)."""
    return []


@pytest.fixture
def make_task(tmp_path: Path, alloc_ids: list[str]) -> Iterator[MakeTask]:
    """A TaskConfig in Nomad's alloc dir layout under tmp_path: alloc/ (with logs/), <task>/local and
    secrets, and a private driver dir. Each call is a new allocation."""

    def make(config: dict[str, Any], **overrides: Any) -> TaskConfig:
        alloc_id = str(uuid.uuid4())
        alloc_ids.append(alloc_id)
        base = tmp_path / alloc_id
        name = overrides.pop("task_name", "web")
        task_dir = base / name
        for directory in (base / "alloc" / "logs", task_dir / "local", task_dir / "secrets"):
            directory.mkdir(parents=True)
        fields: dict[str, Any] = {
            "alloc_id": alloc_id, "task_name": name, "config": config, "alloc_dir": base / "alloc",
            "task_dir": task_dir, "driver_dir": base / "driver" / name,
            "env": {"PATH": "/usr/local/bin:/usr/bin:/bin"},
            "logs": LogRotation(max_files=3, max_file_size_mb=1),
            "kill_timeout_s": 5.0, "job_name": "example", "group_name": "cache",
        }
        fields.update(overrides)
        return TaskConfig(**fields)

    yield make
    _kill_tasks_under(tmp_path)


def read_log(task: TaskConfig, stream: str = "stdout", index: int = 0) -> str:
    path = task.log_dir / f"{task.task_name}.{stream}.{index}"
    return path.read_text() if path.exists() else ""


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout_s: float = 10.0) -> None:
    """Waits until ``check()`` holds, for things real processes do in their own time."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(0.02)
