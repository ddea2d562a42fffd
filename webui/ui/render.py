"""The dashboard's edge: pages and their live fragments rendered, errors turned into pages once.

A page is a full template; each region of it that updates live is a partial template that the page
includes. ``?fragment=<name>`` renders that partial alone with the same context, which is what the
live layer (``static/ui/live.js``) fetches when an event for the region's topics arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agents.server.endpoints_operator import AgentRequest, RegionsResponse
from cluster.errors import CaravanError, Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable
from webui.gateway import gateway
from webui.ui.access import Viewer, viewer

__all__ = ["page", "region_of", "ui_view"]

_STATUS = {PermissionDenied: 403, NotFound: 404, InvalidInput: 400, Conflict: 409, Unavailable: 503}
_TITLES = {
    403: "Not authorized",
    404: "Not found",
    400: "Bad request",
    409: "Changed meanwhile",
    503: "Servers unavailable",
    500: "Something went wrong",
}


def region_of(request: HttpRequest) -> str:
    """``?region=``, else the region the web application serves ("" lets the servers decide)."""
    return request.GET.get("region", "")


def _regions(region: str) -> list[str]:
    """Regions the servers know of, for the header's selector (the current one alone if they cannot say)."""
    try:
        known = gateway().call_sync("Status.Regions", AgentRequest(Region=region), RegionsResponse).Regions
    except CaravanError:
        known = []
    return sorted(set(known) | ({region} if region else set()))


def _chrome(request: HttpRequest, who: Viewer | None) -> dict[str, Any]:
    """What the base template needs on every page: the header's region, namespace and token."""
    try:
        default_region = gateway().settings.region
    except Unavailable:
        default_region = ""
    region = region_of(request) or default_region
    return {
        "viewer": who,
        "region": region,
        "regions": _regions(region),
        "namespace": request.GET.get("namespace") or "default",
    }


def page(
    request: HttpRequest,
    template: str,
    context: Mapping[str, Any],
    fragments: Mapping[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """``template`` with ``context``, or only the partial ``fragments[?fragment]`` for the live layer."""
    full = {**_chrome(request, context.get("viewer")), **context}
    name = request.GET.get("fragment")
    if name:
        if fragments is None or name not in fragments:
            raise NotFound(f"this page has no fragment {name!r}")
        return render(request, fragments[name], full, status=status)
    return render(request, template, full, status=status)


def error_page(request: HttpRequest, error: CaravanError) -> HttpResponse:
    status = next((s for cls, s in _STATUS.items() if isinstance(error, cls)), 500)
    try:
        who: Viewer | None = viewer(request)
    except PermissionDenied:
        who = None  # the session's token itself is refused: the page offers to sign in again
    context = {"viewer": who, "status": status, "title": _TITLES[status], "message": str(error)}
    return render(request, "ui/error.html", {**_chrome(request, who), **context}, status=status)


def ui_view(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A dashboard view: method check and every operating error shown as a page with its status."""

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                return HttpResponse(
                    f"Method {request.method} not allowed", status=405, content_type="text/plain"
                )
            try:
                return view(request, *args, **kwargs)
            except CaravanError as e:
                return error_page(request, e)

        return inner

    return wrap
