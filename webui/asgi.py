"""ASGI entry: HTTP goes to Django, WebSockets to Channels consumers (origin-checked, with the session)."""

from __future__ import annotations

import os

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

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The router refuses foreign origins at the handshake; LiveConsumer checks again (ALLOWED_HOSTS and
        # CSRF_TRUSTED_ORIGINS) and closes with 4403, and reads the dashboard's token from the session.
        "websocket": AllowedHostsOriginValidator(SessionMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
