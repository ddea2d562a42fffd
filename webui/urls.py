"""URL routes: the admin (ACL tokens and policies) and the Nomad-compatible /v1 API."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("v1/", include("webui.api.urls")),
]
