"""The live layer's WebSocket routes."""

from __future__ import annotations

from django.urls import URLPattern, path

from webui.live.consumers import LiveConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/events", LiveConsumer.as_asgi(), name="ws-events"),
]
