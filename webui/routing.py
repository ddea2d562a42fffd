"""WebSocket routes (Channels): the live layer's, and any other app's added here."""

from __future__ import annotations

from django.urls import URLPattern

from webui.live.routing import websocket_urlpatterns as live_patterns

websocket_urlpatterns: list[URLPattern] = [*live_patterns]
