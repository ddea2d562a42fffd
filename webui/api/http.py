"""The /v1 API's edge: JSON bodies in, Nomad-shaped answers out, errors mapped once.

``api_view`` (sync views) and ``async_api_view`` (async ones: streams) check the method, exempt the
token-authenticated API from CSRF, and turn a ``CaravanError`` into its answer with ``error_response``.
``paging``, ``with_next_token`` and ``body_field`` read and write the parts every list and write share.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import msgspec
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from cluster.errors import CaravanError, Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable

__all__ = ["NEXT_TOKEN_HEADER", "api_view", "async_api_view", "body_field", "error_response", "json_response",
           "paging", "read_json", "with_next_token"]

MAX_BODY_BYTES = 8 << 20
NEXT_TOKEN_HEADER = "X-Nomad-NextToken"

_STATUS = {InvalidInput: 400, PermissionDenied: 403, NotFound: 404, Conflict: 409, Unavailable: 503}


def json_response(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(msgspec.json.encode(data), status=status, content_type="application/json")


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, or InvalidInput saying what is wrong with it."""
    if len(request.body) > MAX_BODY_BYTES:
        raise InvalidInput(f"request body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = msgspec.json.decode(request.body or b"null")
    except msgspec.DecodeError as e:
        raise InvalidInput(f"request body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object")
    return data


def error_response(e: CaravanError) -> HttpResponse:
    """The answer to an operating error: its status (400, 403, 404, 409, 503; 500 for the rest) and, as
    Nomad answers errors, its message as plain text."""
    status = next((s for cls, s in _STATUS.items() if isinstance(e, cls)), 500)
    return HttpResponse(str(e), status=status, content_type="text/plain")


def _wrong_method(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"Invalid method {request.method}", status=405, content_type="text/plain")


def api_view(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A /v1 endpoint: method check, CSRF exemption (token-authenticated API), error mapping."""

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return _wrong_method(request)
            try:
                return view(request, *args, **kwargs)
            except CaravanError as e:
                return error_response(e)

        return inner

    return wrap


AsyncView = Callable[..., Awaitable[HttpResponse]]


def async_api_view(*methods: str) -> Callable[[AsyncView], AsyncView]:
    """``api_view`` for an async view (one that streams, or awaits RPC without a thread)."""

    def wrap(view: AsyncView) -> AsyncView:
        @csrf_exempt
        @wraps(view)
        async def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return _wrong_method(request)
            try:
                return await view(request, *args, **kwargs)
            except CaravanError as e:
                return error_response(e)

        return inner

    return wrap


def paging(request: HttpRequest) -> tuple[int, str]:
    """``?per_page=&next_token=`` of a paginated list: a page size (0, absent: everything) and a token."""
    raw = request.GET.get("per_page", "")
    try:
        per_page = int(raw) if raw else 0
    except ValueError:
        raise InvalidInput(f"Invalid per_page: {raw!r}") from None
    if per_page < 0:
        raise InvalidInput(f"Invalid per_page: {raw!r}")
    return per_page, request.GET.get("next_token", "")


def with_next_token(response: HttpResponse, next_token: str) -> HttpResponse:
    """Nomad's ``X-Nomad-NextToken`` header when there is a next page."""
    if next_token:
        response[NEXT_TOKEN_HEADER] = next_token
    return response


def body_field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """``body[name]`` matched without regard to case (as Go's JSON decoding), checked to be a ``kind``."""
    wanted = name.lower()
    value = next((v for k, v in body.items() if k.lower() == wanted), default)
    wrong_type = value is not None and not isinstance(value, kind)
    if wrong_type or (isinstance(value, bool) and kind is int):
        raise InvalidInput(f"{name}: expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value
