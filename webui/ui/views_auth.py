"""/ui/settings/tokens: sign in with a token's secret, see who you are, sign out."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from cluster.errors import PermissionDenied
from webui.ui.access import sign_in, sign_out, viewer
from webui.ui.render import page, ui_view

__all__ = ["tokens"]


@ui_view("GET", "POST")
def tokens(request: HttpRequest) -> HttpResponse:
    """POST secret=...: sign in; POST action=sign-out: forget the token. A refused secret is a 403."""
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
            return HttpResponseRedirect(reverse("ui:jobs"))
    try:
        who = viewer(request)
    except PermissionDenied as e:
        sign_out(request)  # the kept token was revoked or expired: start over as anonymous
        error, who = f"{e}: you have been signed out", viewer(request)
    return page(request, "ui/tokens.html", {"viewer": who, "error": error}, status=403 if error else 200)
