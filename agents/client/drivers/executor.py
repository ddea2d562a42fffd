"""The executor: one small process per raw_exec task that owns the task's process and its output.

Why a process of its own: the task's stdout and stderr must keep flowing into rotating files, and its
exit code must be known, even while the client is down or after it restarted (a restarted client is
not the task's parent, so it could neither read the pipes nor ``wait`` for the exit status). The
executor is the task's parent, sits in a session of its own and is nobody's child (it forks once at
start and the parent exits, so a restarted client and the one that started it see it the same way); it

1. reads its ``spec`` as JSON on stdin (so secrets in the environment never touch the disk),
2. starts the task in a new session (its own process group) and answers one JSON line on stdout:
   the task's and its own pid and start time, or ``{"error": "..."}``,
3. copies the task's stdout/stderr into ``<log_dir>/<task>.stdout.N`` / ``.stderr.N`` (``RotatingLog``),
4. when the task's main process exits, kills what is left of its process group (while the exited
   leader, not yet reaped, still holds the group's id), drains the pipes, and
5. writes the exit status atomically to ``exit_file``, then exits itself.

The driver signals the task's group directly (``ProcessIdentity.signal_group``) and learns that the
task has ended when the executor has exited. Run as ``python -m agents.client.drivers.executor``.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any

from agents.client.drivers.logs import LogRotation, RotatingLog
from agents.client.drivers.procstat import ProcessIdentity

__all__ = ["main", "popen_user_kwargs", "read_exit_file", "write_exit_file"]

# After the task's group is gone, how long the pipes may still take to drain: only a process that
# escaped the group (a daemon that called setsid) can keep them open longer, and it is not waited for.
DRAIN_TIMEOUT_S = 5.0
PIPE_READ_BYTES = 64 * 1024


def popen_user_kwargs(user: str) -> dict[str, Any]:
    """``Popen`` arguments that run the child as ``user`` (with its primary and supplementary groups).

    Only root may switch users; naming the current user is allowed for anyone.
    """
    if not user:
        return {}
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ValueError(f'user "{user}" does not exist on this client') from None
    if entry.pw_uid == os.geteuid():
        return {}
    if os.geteuid() != 0:
        raise ValueError(f'cannot run as user "{user}": the client does not run as root')
    return {
        "user": entry.pw_uid,
        "group": entry.pw_gid,
        "extra_groups": os.getgrouplist(entry.pw_name, entry.pw_gid),
    }


def write_exit_file(path: Path, result: dict[str, Any]) -> None:
    """Writes the exit status so that a crash can leave the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(result, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_exit_file(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return data


def _answer(message: dict[str, Any]) -> None:
    """The one line the driver waits for; then stdout goes to /dev/null so a vanished client cannot
    hurt the executor through a broken pipe."""
    os.write(1, (json.dumps(message) + "\n").encode())
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _pump(pipe: IO[bytes], log: RotatingLog) -> None:
    """Copies one pipe into its log until the last writer closes it. A failing disk loses log data
    but never blocks the task (which would hang on a full pipe)."""
    fd = pipe.fileno()
    complained = False
    while True:
        try:
            data = os.read(fd, PIPE_READ_BYTES)
        except OSError:
            break
        if not data:
            break
        try:
            log.write(data)
        except OSError as e:
            if not complained:
                print(f"executor: cannot write {log.path}: {e}", file=sys.stderr, flush=True)
                complained = True
    pipe.close()


def _start_task(spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        spec["argv"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=spec["cwd"],
        env=spec["env"],
        start_new_session=True,
        **popen_user_kwargs(spec.get("user", "")),
    )


def _adjust_oom_score(pid: int, value: int | None) -> None:
    if value is None:
        return
    try:
        Path(f"/proc/{pid}/oom_score_adj").write_text(str(value))
    except OSError as e:
        print(f"executor: cannot set oom_score_adj={value}: {e}", file=sys.stderr, flush=True)


def _wait_and_clean_up(task: subprocess.Popen[bytes], identity: ProcessIdentity) -> int:
    """Waits for the main process, kills its leftover group while the group id is still reserved by
    the unreaped leader, then reaps it. Returns the Popen return code (negative: killed by signal)."""
    os.waitid(os.P_PID, task.pid, os.WEXITED | os.WNOWAIT)
    identity.signal_group(signal.SIGKILL)
    return task.wait()


def _run(spec: dict[str, Any]) -> int:
    rotation = LogRotation(int(spec["max_files"]), int(spec["max_file_size_mb"]))
    log_dir, name = Path(spec["log_dir"]), spec["task_name"]
    logs = [RotatingLog(log_dir, f"{name}.{stream}", rotation) for stream in ("stdout", "stderr")]
    try:
        task = _start_task(spec)
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        _answer({"error": f"failed to start {spec['argv'][0]}: {reason}"})
        return 1
    identity = ProcessIdentity.of(task.pid)
    started_at_s = time.time()
    signal.signal(signal.SIGTERM, lambda _s, _f: identity.signal_group(signal.SIGTERM))
    _adjust_oom_score(task.pid, spec.get("oom_score_adj"))
    _answer({"task": identity.to_json(), "executor": ProcessIdentity.of(os.getpid()).to_json(),
             "started_at_s": started_at_s})
    assert task.stdout is not None and task.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(pipe, log), daemon=True)
        for pipe, log in zip((task.stdout, task.stderr), logs, strict=True)
    ]
    for pump in pumps:
        pump.start()
    returncode = _wait_and_clean_up(task, identity)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    for pump in pumps:
        pump.join(max(deadline - time.monotonic(), 0.0))
    sig = -returncode if returncode < 0 else 0
    result = {"exit_code": 128 + sig if sig else returncode, "signal": sig,
              "started_at_s": started_at_s, "finished_at_s": time.time()}
    write_exit_file(Path(spec["exit_file"]), result)
    return 0


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """A handler, not SIG_IGN: ignored signals would stay ignored in the task after exec."""


def main() -> int:
    if os.fork() != 0:  # the driver reaps this parent at once; the executor carries on as an orphan
        os._exit(0)
    signal.signal(signal.SIGHUP, _ignore)
    signal.signal(signal.SIGINT, _ignore)
    os.chdir("/")
    spec: dict[str, Any] = json.loads(sys.stdin.buffer.read())
    return _run(spec)


if __name__ == "__main__":
    sys.exit(main())
