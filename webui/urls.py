"""URL routes: the dashboard (/ui/), the admin (ACL tokens and policies) and the Nomad-compatible /v1 API."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/ui/jobs", permanent=False)),
    path("ui/", include("webui.ui.urls")),
    path("admin/", admin.site.urls),
    path("v1/", include("webui.api.urls")),
]
