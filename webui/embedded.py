"""The web application inside another asyncio program: ``caravan agent -dev`` serves the dashboard and the
/v1 API from its own process, as ``nomad agent -dev`` does.

    configure(data_dir=..., servers="127.0.0.1:4647", cluster_key_b64=..., dev=True)   # before any Django import
    await serve(host="127.0.0.1", port=4646, stop=stop_event)

The ASGI server is uvicorn, which runs on the caller's asyncio loop (daphne would need Twisted's reactor to
own the loop). Django's sync views run on asgiref's thread pool; their RPC calls go through the gateway's
own loop thread to the servers, here the agent's own server over loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

__all__ = ["configure", "serve"]


def configure(*, data_dir: Path, servers: str, cluster_key_b64: str, dev: bool, region: str = "") -> None:
    """Points the web application at its database and the servers. Must run before Django is set up,
    since ``webui.config`` reads the environment once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["CARAVAN_DATA_DIR"] = str(data_dir)
    os.environ["CARAVAN_SERVERS"] = servers
    os.environ["CARAVAN_CLUSTER_KEY"] = cluster_key_b64
    if region:
        os.environ["CARAVAN_REGION"] = region
    if dev:
        os.environ.setdefault("CARAVAN_DEV", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webui.settings")


def _prepare() -> object:
    """Django set up, the database migrated, and the ASGI application (blocking: run in a thread)."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from webui.asgi import application

    return application


async def serve(*, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serves HTTP and WebSockets on the listening ``sock`` until ``stop`` is set. The caller binds it,
    so a port in use is the caller's clear error before anything starts."""
    import uvicorn

    application = await asyncio.to_thread(_prepare)

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the agent owns SIGTERM and SIGINT
            yield

    server = _Server(uvicorn.Config(application, lifespan="off", log_level="warning", access_log=False,
                                    ws="websockets-sansio"))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="web")
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await asyncio.gather(task, return_exceptions=True)
