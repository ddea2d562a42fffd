"""The CLI's way to a Caravan (or Nomad) HTTP API: address, token, region and namespace as Nomad's CLI.

    api = Api.from_args(args)                     # -address/-token/-region/-namespace, then the environment
    job = api.get("/v1/job/web")                  # decoded JSON; ApiError on a non-2xx answer
    api.put("/v1/jobs", {"Job": ...})

Settings, first found wins: the flag (``-address``, ``-token``, ``-region``, ``-namespace``), then
``CARAVAN_ADDR``/``NOMAD_ADDR`` (default ``http://127.0.0.1:4646``), ``CARAVAN_TOKEN``/``NOMAD_TOKEN``,
``CARAVAN_REGION``/``NOMAD_REGION``, ``CARAVAN_NAMESPACE``/``NOMAD_NAMESPACE``. The token goes in
``X-Nomad-Token``, never in a URL.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cluster.errors import CaravanError

__all__ = ["DEFAULT_ADDRESS", "Api", "ApiError", "add_api_flags"]

DEFAULT_ADDRESS = "http://127.0.0.1:4646"
DEFAULT_TIMEOUT_S = 30.0


class ApiError(CaravanError):
    """A non-2xx answer, or no answer; ``str()`` reads as Nomad's CLI prints it."""

    def __init__(self, message: str, status: int = 0, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def add_api_flags(parser: argparse.ArgumentParser) -> None:
    """Nomad's general options, on every command that calls the API."""
    group = parser.add_argument_group("API options")
    group.add_argument("-address", default=None, help="HTTP address of the API (CARAVAN_ADDR, NOMAD_ADDR)")
    group.add_argument("-token", default=None, help="ACL SecretID (CARAVAN_TOKEN, NOMAD_TOKEN)")
    group.add_argument("-region", default=None, help="region to send the request to (NOMAD_REGION)")
    group.add_argument("-namespace", default=None, help="namespace (NOMAD_NAMESPACE, default \"default\")")


def _first(environ: Mapping[str, str], *names: str) -> str:
    return next((environ[n].strip() for n in names if environ.get(n, "").strip()), "")


@dataclass(frozen=True)
class Api:
    address: str = DEFAULT_ADDRESS
    token: str = field(default="", repr=False)
    region: str = ""
    namespace: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Api:
        env = os.environ if environ is None else environ
        address = getattr(args, "address", None) or _first(env, "CARAVAN_ADDR", "NOMAD_ADDR") or DEFAULT_ADDRESS
        if "://" not in address:
            address = "http://" + address
        return cls(
            address=address.rstrip("/"),
            token=getattr(args, "token", None) or _first(env, "CARAVAN_TOKEN", "NOMAD_TOKEN"),
            region=getattr(args, "region", None) or _first(env, "CARAVAN_REGION", "NOMAD_REGION"),
            namespace=getattr(args, "namespace", None) or _first(env, "CARAVAN_NAMESPACE", "NOMAD_NAMESPACE"),
        )

    # ---- requests -------------------------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query: dict[str, str] = {}
        if self.region:
            query["region"] = self.region
        if self.namespace:
            query["namespace"] = self.namespace
        for key, value in (params or {}).items():
            if value is None or value is False:
                continue
            query[key] = "true" if value is True else str(value)
        encoded = urllib.parse.urlencode(query)
        return f"{self.address}{path}" + (f"?{encoded}" if encoded else "")

    def request(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None,
                *, raw_body: bytes | None = None, timeout_s: float | None = None) -> bytes:
        """The answer's body; ApiError for a non-2xx status or an unreachable address."""
        data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url(path, params), data=data, method=method)
        if self.token:
            req.add_header("X-Nomad-Token", self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json" if raw_body is None else "application/octet-stream")
        try:
            with urllib.request.urlopen(req, timeout=timeout_s or self.timeout_s) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace").strip()
            raise ApiError(f"Unexpected response code: {e.code} ({text})", e.code, text) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ApiError(f"Error connecting to {self.address}: {reason}") from None

    def stream(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[bytes]:
        """The answer's body as it arrives (follow modes); ApiError as :meth:`request`."""
        req = urllib.request.Request(self.url(path, params), method="GET")
        if self.token:
            req.add_header("X-Nomad-Token", self.token)
        try:
            response = urllib.request.urlopen(req, timeout=None)
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace").strip()
            raise ApiError(f"Unexpected response code: {e.code} ({text})", e.code, text) from None
        except (urllib.error.URLError, OSError) as e:
            raise ApiError(f"Error connecting to {self.address}: {getattr(e, 'reason', e)}") from None
        with response:
            while True:
                chunk = response.read1(64 * 1024)
                if not chunk:
                    return
                yield chunk

    def _json(self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        raw = self.request(method, path, body, params)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(f"{method} {path}: the answer is not JSON: {raw[:200]!r}") from None

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._json("GET", path, None, params)

    def put(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self._json("PUT", path, body, params)

    def post(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self._json("POST", path, body, params)

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._json("DELETE", path, None, params)

    def resolve_id(self, kind: str, list_path: str, prefix: str, key: str = "ID") -> dict[str, Any]:
        """The one object whose id starts with ``prefix`` (Nomad's short ids), or a clear error."""
        if len(prefix) < 1:
            raise ApiError(f"{kind} ID must not be empty")
        matches = self.get(list_path, {"prefix": prefix}) or []
        exact = [m for m in matches if m.get(key) == prefix]
        if exact:
            return dict(exact[0])
        if not matches:
            raise ApiError(f"No {kind} with prefix or ID \"{prefix}\" found")
        if len(matches) > 1:
            ids = ", ".join(str(m.get(key, ""))[:8] for m in matches[:10])
            raise ApiError(f"Prefix \"{prefix}\" matched multiple {kind}s: {ids}")
        return dict(matches[0])
