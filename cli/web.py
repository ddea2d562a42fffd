"""``caravan web``: the web application (dashboard, /v1 API, live views) under an ASGI server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["register"]


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-http-port", dest="http_port", type=int, default=4646, help="HTTP port (default 4646)")
    parser.add_argument("-bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("-data-dir", dest="data_dir", default=".data/web", help="where the web database lives")
    parser.add_argument("-dev", action="store_true", help="dev mode: debug on, no secret key needed")
    parser.add_argument(
        "-servers", default="", help="RPC addresses of the region's servers, comma-separated (CARAVAN_SERVERS)"
    )
    parser.set_defaults(func=cmd_web)


def cmd_web(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["CARAVAN_DATA_DIR"] = str(data_dir)
    if args.dev:
        os.environ.setdefault("CARAVAN_DEV", "1")
    if args.servers:
        os.environ["CARAVAN_SERVERS"] = args.servers
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webui.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    url = f"http://{args.bind}:{args.http_port}"
    sys.stderr.write(f"==> Caravan web application on {url}\n    API: {url}/v1/\n")
    if args.dev:
        _print_dev_credentials(url)
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(["-b", args.bind, "-p", str(args.http_port), "webui.asgi:application"])
    return 0


def _print_dev_credentials(url: str) -> None:
    """Dev mode: a fresh management token (24 h) and admin password on every start.

    Nothing is stored in the clear: the token is kept hashed like any other, the password as
    Django's password hash; both are printed once, here, and are useless after the run's day.
    """
    import secrets
    from datetime import timedelta

    from django.contrib.auth import get_user_model

    from webui import acl as services

    if not services.is_bootstrapped():
        created = services.acl_bootstrap()
    else:
        created = services.token_create(
            name="dev-up", type="management", policies=[], global_=True, ttl=timedelta(hours=24)
        )
    password = secrets.token_urlsafe(12)
    user_model = get_user_model()
    admin = user_model.objects.filter(username="admin").first() or user_model(username="admin")
    admin.is_staff = admin.is_superuser = True
    admin.set_password(password)
    admin.save()
    sys.stderr.write(
        f"    Management token (X-Nomad-Token): {created.secret_id}\n"
        f"    Admin pages: {url}/admin/  user admin, password {password}\n"
    )
