"""The web application's settings, read from the environment exactly once.

Every ``CARAVAN_*`` variable the web application honours is read here and nowhere else, so the
full list of knobs is this one module. ``webui.settings`` turns the result into Django settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected a boolean (true/false), got {value!r}")


@dataclass(frozen=True, slots=True)
class WebConfig:
    """What the environment says; defaults suit a single-machine dev agent."""

    debug: bool
    secret_key: str
    secret_key_fallbacks: tuple[str, ...]  # earlier keys, so a key rotation keeps ACL tokens valid
    data_dir: Path
    allowed_hosts: tuple[str, ...]
    redis_url: str | None
    dev_mode: bool
    https: bool = False  # served over HTTPS (usually a TLS proxy in front): secure cookies, HSTS, redirect
    trust_proxy_https: bool = False  # the proxy's X-Forwarded-Proto says whether the browser used HTTPS
    hsts_preload: bool = False


    @classmethod
    def from_environ(cls, environ: dict[str, str] | os._Environ[str]) -> WebConfig:
        data_dir = Path(environ.get("CARAVAN_DATA_DIR", str(BASE_DIR / ".data"))).resolve()
        debug = _bool(environ.get("CARAVAN_DEBUG"), default=False)
        dev_mode = _bool(environ.get("CARAVAN_DEV"), default=False)
        secret_key = environ.get("CARAVAN_SECRET_KEY", "")
        if not secret_key:
            if not (debug or dev_mode):
                raise ValueError("CARAVAN_SECRET_KEY must be set outside debug and dev mode")
            secret_key = "caravan-dev-only-insecure-key-" + "x" * 24
        hosts = environ.get("CARAVAN_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
        return cls(
            debug=debug,
            secret_key=secret_key,
            secret_key_fallbacks=tuple(
                k for k in environ.get("CARAVAN_SECRET_KEY_FALLBACKS", "").split(",") if k.strip()
            ),
            data_dir=data_dir,
            allowed_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()),
            redis_url=environ.get("REDIS_URL") or None,
            dev_mode=dev_mode,
            https=_bool(environ.get("CARAVAN_HTTPS"), default=not (debug or dev_mode)),
            trust_proxy_https=_bool(environ.get("CARAVAN_TRUST_PROXY_HTTPS"), default=False),
            hsts_preload=_bool(environ.get("CARAVAN_HSTS_PRELOAD"), default=False),
        )


CONFIG = WebConfig.from_environ(os.environ)
