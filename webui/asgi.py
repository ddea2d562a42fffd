"""ASGI entry: HTTP goes to Django, WebSockets to Channels consumers (origin-checked, with the session)."""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webui.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import SessionMiddlewareStack  # noqa: E402

from webui.config import CONFIG  # noqa: E402
from webui.routing import websocket_urlpatterns  # noqa: E402

if CONFIG.dev_mode or CONFIG.debug:
    # One process serves everything in dev; production serves collected static files in front.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)


def _browser_origin_checked(inner: Any) -> Any:
    """Handshakes that carry an Origin (every browser's) must come from this site: foreign ones are refused
    here (cross-site WebSocket hijacking). Handshakes without one come from programs, not pages (Nomad's CLI
    opens ``alloc exec`` that way); they reach the consumers, which then authenticate by token: the live
    consumer refuses them, the exec consumer takes the token from a header or the first frame."""
    checked = AllowedHostsOriginValidator(inner)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if any(name == b"origin" for name, _ in scope.get("headers", [])):
            return await checked(scope, receive, send)
        return await inner(scope, receive, send)

    return app


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # LiveConsumer checks the Origin again (ALLOWED_HOSTS and CSRF_TRUSTED_ORIGINS) and closes with 4403;
        # the consumers read the dashboard's token from the session.
        "websocket": _browser_origin_checked(SessionMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
