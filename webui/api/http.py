"""The /v1 API's edge: JSON bodies in, Nomad-shaped answers out, errors mapped once."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import msgspec
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from cluster.errors import CaravanError, Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable

__all__ = ["api_view", "json_response", "read_json"]

MAX_BODY_BYTES = 8 << 20

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


def api_view(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A /v1 endpoint: method check, CSRF exemption (token-authenticated API), error mapping.

    Nomad answers errors with a plain-text body and the status code; so does Caravan.
    """

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return HttpResponse(f"Invalid method {request.method}", status=405, content_type="text/plain")
            try:
                return view(request, *args, **kwargs)
            except CaravanError as e:
                status = next((s for cls, s in _STATUS.items() if isinstance(e, cls)), 500)
                return HttpResponse(str(e), status=status, content_type="text/plain")

        return inner

    return wrap
