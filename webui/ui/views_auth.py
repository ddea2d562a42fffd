"""/ui/settings/tokens: sign in with a token's secret, see who you are, sign out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from cluster.errors import PermissionDenied
from webui.ui.access import sign_in, sign_out, viewer
from webui.ui.render import page, ui_view

__all__ = ["tokens"]


def _after_sign_in(request: HttpRequest) -> str:
    """Where signing in leads: the dashboard page that sent the operator here (``?next=``), else the jobs.
    Only a path of this site's dashboard: never another host (an open redirect)."""
    wanted = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(wanted, allowed_hosts=None, require_https=request.is_secure())
    return wanted if safe and wanted.startswith("/ui/") else reverse("ui:jobs")


@ui_view("GET", "POST")
def tokens(request: HttpRequest) -> HttpResponse:
    """POST secret=...: sign in (then back to ``?next=``); POST action=sign-out: forget the token. A refused
    secret is a 403."""
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "sign-out":
            sign_out(request)
            return HttpResponseRedirect(reverse("ui:tokens"))
        try:
            sign_in(request, request.POST.get("secret", ""))
        except PermissionDenied as e:
            error = str(e)
        else:
            return HttpResponseRedirect(_after_sign_in(request))
    try:
        who = viewer(request)
    except PermissionDenied as e:
        sign_out(request)  # the kept token was revoked or expired: start over as anonymous
        error, who = f"{e}: you have been signed out", viewer(request)
    return page(request, "ui/tokens.html", {"viewer": who, "error": error}, status=403 if error else 200)
