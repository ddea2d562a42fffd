"""``caravan alloc status|logs|stop|restart|signal|exec`` over the HTTP API, as Nomad's CLI.

``alloc exec`` speaks Nomad's exec WebSocket (``/v1/client/allocation/:id/exec``): the token goes in
the first frame (as Nomad's CLI sends it), stdin is forwarded as it is read, with ``-t`` the local
terminal is put in raw mode and its size (and every change of it, SIGWINCH) is sent along, and the
command's exit code becomes the CLI's.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import signal as signal_module
import sys
import termios
import threading
import time
import tty as tty_module
import urllib.parse
from collections.abc import Iterator
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from cli.api import Api, ApiError, add_api_flags
from cli.format import columns, kv, limit_id, relative_ns, rfc3339_ns
from cli.monitor import monitor_eval
from cluster.errors import InvalidInput

__all__ = ["register"]


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="alloc_command", metavar="<subcommand>", parser_class=type(parser))
    sub.required = True

    status = sub.add_parser("status", help="Show an allocation (or list them without an id)")
    status.add_argument("alloc", nargs="?", metavar="ALLOC")
    status.add_argument("-verbose", action="store_true")
    status.add_argument("-json", action="store_true")
    add_api_flags(status)
    status.set_defaults(func=cmd_status)

    logs = sub.add_parser("logs", help="Print a task's stdout (or -stderr)")
    logs.add_argument("alloc", metavar="ALLOC")
    logs.add_argument("task", nargs="?", metavar="TASK")
    logs.add_argument("-stderr", action="store_true")
    logs.add_argument("-f", dest="follow", action="store_true", help="follow")
    logs.add_argument("-tail", action="store_true", help="from the end (see -n, -c)")
    logs.add_argument("-n", dest="lines", type=int, default=-1, help="last N lines with -tail")
    logs.add_argument("-c", dest="bytes", type=int, default=-1, help="last N bytes with -tail")
    add_api_flags(logs)
    logs.set_defaults(func=cmd_logs)

    stop = sub.add_parser("stop", help="Stop an allocation (the scheduler replaces it)")
    stop.add_argument("alloc", metavar="ALLOC")
    stop.add_argument("-detach", action="store_true")
    stop.add_argument("-verbose", action="store_true")
    add_api_flags(stop)
    stop.set_defaults(func=cmd_stop)

    restart = sub.add_parser("restart", help="Restart an allocation's tasks in place")
    restart.add_argument("alloc", metavar="ALLOC")
    restart.add_argument("task", nargs="?", metavar="TASK")
    restart.add_argument("-all-tasks", dest="all_tasks", action="store_true")
    add_api_flags(restart)
    restart.set_defaults(func=cmd_restart)

    signal = sub.add_parser("signal", help="Send a signal to an allocation's tasks")
    signal.add_argument("alloc", metavar="ALLOC")
    signal.add_argument("task", nargs="?", metavar="TASK")
    signal.add_argument("-s", dest="signal", default="SIGKILL", help="signal name (default SIGKILL)")
    add_api_flags(signal)
    signal.set_defaults(func=cmd_signal)

    exec_ = sub.add_parser("exec", help="Run a command in a running task (interactive with -i -t)")
    exec_.add_argument("-task", default=None, help="the task (may be left out when the group has one)")
    exec_.add_argument("-job", action="store_true", help="ALLOC is a job ID: use one of its running allocations")
    # Nomad's boolean flags: -i, -i=true, -i=false (exact option strings, so "-i ALLOC" stays a flag).
    exec_.add_argument("-i", "-i=true", dest="stdin", action="store_const", const=True, default=True,
                       help="pass stdin to the command (the default; -i=false to not)")
    exec_.add_argument("-i=false", dest="stdin", action="store_const", const=False, help=argparse.SUPPRESS)
    exec_.add_argument("-t", "-t=true", dest="tty", action="store_const", const=True, default=None,
                       help="allocate a terminal (default: when stdin is a terminal; -t=false to not)")
    exec_.add_argument("-t=false", dest="tty", action="store_const", const=False, help=argparse.SUPPRESS)
    add_api_flags(exec_)
    exec_.add_argument("alloc", metavar="ALLOC")
    exec_.add_argument("command", nargs=argparse.REMAINDER, metavar="CMD [ARGS...]")
    exec_.set_defaults(func=cmd_exec)


def resolve_alloc(api: Api, prefix: str) -> dict[str, Any]:
    stub = api.resolve_id("allocation", "/v1/allocations", prefix)
    return dict(api.get(f"/v1/allocation/{stub['ID']}"))


def cmd_status(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    if not args.alloc:
        allocs = api.get("/v1/allocations") or []
        rows = [[limit_id(a["ID"], args.verbose), limit_id(a.get("NodeID", ""), args.verbose), a.get("JobID"),
                 a.get("TaskGroup"), a.get("DesiredStatus"), a.get("ClientStatus")] for a in allocs]
        print(columns(["ID", "Node ID", "Job ID", "Task Group", "Desired", "Status"], rows))
        return 0
    alloc = resolve_alloc(api, args.alloc)
    if args.json:
        print(json.dumps(alloc, indent=4))
        return 0
    now = time.time_ns()
    print(kv([
        ("ID", alloc["ID"]), ("Eval ID", limit_id(alloc.get("EvalID", ""), args.verbose)),
        ("Name", alloc.get("Name")), ("Node ID", limit_id(alloc.get("NodeID", ""), args.verbose)),
        ("Node Name", alloc.get("NodeName")), ("Job ID", alloc.get("JobID")),
        ("Job Version", (alloc.get("Job") or {}).get("Version", alloc.get("JobVersion", 0))),
        ("Client Status", alloc.get("ClientStatus")), ("Client Description", alloc.get("ClientDescription")),
        ("Desired Status", alloc.get("DesiredStatus")), ("Desired Description", alloc.get("DesiredDescription")),
        ("Created", relative_ns(alloc.get("CreateTime"), now)),
        ("Modified", relative_ns(alloc.get("ModifyTime"), now)),
    ]))
    for task, state in sorted((alloc.get("TaskStates") or {}).items()):
        print(f'\nTask "{task}" is "{state.get("State", "")}"')
        events = state.get("Events") or []
        rows = [[rfc3339_ns(e.get("Time")), e.get("Type"), e.get("DisplayMessage") or e.get("Message", "")]
                for e in reversed(events)]
        print("Recent Events:")
        print(columns(["Time", "Type", "Description"], rows))
    return 0


def _task(alloc: dict[str, Any], task: str | None) -> str:
    tasks = sorted((alloc.get("TaskStates") or {}).keys())
    if task:
        if tasks and task not in tasks:
            raise InvalidInput(f'allocation {alloc["ID"][:8]} has no task "{task}" (tasks: {", ".join(tasks)})')
        return task
    if len(tasks) == 1:
        return str(tasks[0])
    raise InvalidInput(f"allocation {alloc['ID'][:8]} has {len(tasks)} tasks: name one ({', '.join(tasks)})")


def cmd_logs(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    alloc = resolve_alloc(api, args.alloc)
    task = _task(alloc, args.task)
    params: dict[str, Any] = {"task": task, "type": "stderr" if args.stderr else "stdout", "plain": True,
                              "follow": args.follow or None}
    if args.tail:
        params["origin"] = "end"
        params["offset"] = args.bytes if args.bytes >= 0 else (args.lines * 120 if args.lines >= 0 else 10240)
    out = sys.stdout.buffer
    if args.follow:
        for chunk in api.stream(f"/v1/client/fs/logs/{alloc['ID']}", params):
            out.write(chunk)
            out.flush()
        return 0
    data = api.request("GET", f"/v1/client/fs/logs/{alloc['ID']}", params=params)
    if args.tail and args.lines >= 0 and args.bytes < 0:
        data = b"".join(data.splitlines(keepends=True)[-args.lines:]) if args.lines else b""
    out.write(data)
    out.flush()
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    alloc = resolve_alloc(api, args.alloc)
    reply = api.post(f"/v1/allocation/{alloc['ID']}/stop") or {}
    if args.detach or not reply.get("EvalID"):
        print(reply.get("EvalID", ""))
        return 0
    return monitor_eval(api, reply["EvalID"], full_ids=args.verbose)


def cmd_restart(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    alloc = resolve_alloc(api, args.alloc)
    body = {"TaskName": _task(alloc, args.task) if args.task else "", "AllTasks": args.all_tasks}
    api.post(f"/v1/client/allocation/{alloc['ID']}/restart", body)
    return 0


def cmd_signal(args: argparse.Namespace) -> int:
    api = Api.from_args(args)
    alloc = resolve_alloc(api, args.alloc)
    body = {"Task": _task(alloc, args.task) if args.task else "", "Signal": args.signal}
    api.post(f"/v1/client/allocation/{alloc['ID']}/signal", body)
    return 0



# ---- exec -------------------------------------------------------------------------------------------

EXEC_OPEN_TIMEOUT_S = 15.0
STDIN_READ_BYTES = 32 << 10


def _exec_url(api: Api, alloc_id: str, task: str, command: list[str], tty: bool) -> str:
    http = api.url(f"/v1/client/allocation/{alloc_id}/exec",
                   {"task": task, "command": json.dumps(command), "tty": tty})
    return "ws" + http[len("http"):]  # http -> ws, https -> wss


def cmd_exec(args: argparse.Namespace) -> int:
    command: list[str] = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise InvalidInput("alloc exec needs a command: caravan alloc exec ALLOC CMD [ARGS...]")
    forward_stdin = bool(args.stdin)
    tty = sys.stdin.isatty() if args.tty is None else bool(args.tty)
    api = Api.from_args(args)
    alloc = _running_alloc_of_job(api, args.alloc) if args.job else resolve_alloc(api, args.alloc)
    task = _task(alloc, args.task)
    try:
        ws = connect(_exec_url(api, alloc["ID"], task, command, tty), origin=Origin(api.address),
                     open_timeout=EXEC_OPEN_TIMEOUT_S, max_size=None)
    except InvalidStatus as e:
        raise ApiError(f"Error connecting to {api.address}: {e.response.status_code}", e.response.status_code) \
            from None
    except (OSError, InvalidHandshake, TimeoutError) as e:
        raise ApiError(f"Error connecting to {api.address}: {e}") from None
    with ws, _raw_terminal(tty):
        ws.send(json.dumps({"version": 1, "auth_token": api.token}))
        if tty:
            _send_size(ws)
        with _resizes(ws, tty):
            if forward_stdin:
                threading.Thread(target=_pump_stdin, args=(ws,), name="stdin", daemon=True).start()
            else:
                ws.send(json.dumps({"stdin": {"close": True}}))
            return _print_output(ws)


def _running_alloc_of_job(api: Api, job_id: str) -> dict[str, Any]:
    """As Nomad's ``-job``: a random running allocation of the job."""
    allocs = api.get(f"/v1/job/{urllib.parse.quote(job_id, safe='')}/allocations") or []
    running = [a for a in allocs if a.get("ClientStatus") == "running"]
    if not running:
        raise InvalidInput(f'job "{job_id}" has no running allocation')
    return dict(api.get(f"/v1/allocation/{random.choice(running)['ID']}"))


def _print_output(ws: ClientConnection) -> int:
    """Writes the command's output as it comes; its exit code, or an ApiError when the socket closed
    without one (the close reason says why)."""
    try:
        for message in ws:
            frame = json.loads(message)
            for name, out in (("stdout", sys.stdout.buffer), ("stderr", sys.stderr.buffer)):
                if isinstance(frame.get(name), dict) and frame[name].get("data"):
                    out.write(base64.b64decode(frame[name]["data"]))
                    out.flush()
            if frame.get("exited"):
                return int((frame.get("result") or {}).get("exit_code", 0))
    except ConnectionClosed:
        pass
    code, reason = ws.close_code, ws.close_reason
    if code is None or code < 4000:
        raise ApiError("the exec session ended without the command's exit code")
    raise ApiError(f"{reason or 'exec refused'} (close code {code})", code - 4000)


def _pump_stdin(ws: ClientConnection) -> None:
    """Forwards what is typed or piped; end of input closes the command's stdin."""
    with contextlib.suppress(ConnectionClosed, OSError):
        while data := os.read(sys.stdin.fileno(), STDIN_READ_BYTES):
            ws.send(json.dumps({"stdin": {"data": base64.b64encode(data).decode()}}))
        ws.send(json.dumps({"stdin": {"close": True}}))


def _send_size(ws: ClientConnection) -> None:
    with contextlib.suppress(OSError, ConnectionClosed):
        size = os.get_terminal_size(sys.stdout.fileno() if sys.stdout.isatty() else sys.stdin.fileno())
        ws.send(json.dumps({"tty_size": {"height": size.lines, "width": size.columns}}))


@contextlib.contextmanager
def _raw_terminal(tty: bool) -> Iterator[None]:
    """With -t on a real terminal: raw mode (keys go to the remote command as typed), restored after."""
    if not tty or not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty_module.setraw(fd, termios.TCSANOW)  # not TCSAFLUSH: keep what was typed ahead
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _resizes(ws: ClientConnection, tty: bool) -> Iterator[None]:
    """Sends the terminal's new size on SIGWINCH while the session lasts."""
    if not tty or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal_module.signal(signal_module.SIGWINCH, lambda *_: _send_size(ws))
    try:
        yield
    finally:
        signal_module.signal(signal_module.SIGWINCH, previous)
