"""WebSocket routes (Channels): the live layer's, and any other app's added here."""

from __future__ import annotations

from django.urls import URLPattern, path

from webui.live.exec import ExecConsumer
from webui.live.routing import websocket_urlpatterns as live_patterns

websocket_urlpatterns: list[URLPattern] = [
    *live_patterns,
    path("v1/client/allocation/<str:alloc_id>/exec", ExecConsumer.as_asgi(), name="ws-alloc-exec"),
]
