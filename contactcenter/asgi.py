"""ASGI entry point: Django for HTTP, Channels for websockets (served by Daphne)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from contactcenter.middleware import AsgiRequestIdMiddleware  # noqa: E402

# Every request and websocket gets its id for the log first (contactcenter/logs.py).
application = AsgiRequestIdMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            # Each route checks the Origin its own way (chat/routing.py).
            "websocket": URLRouter(websocket_urlpatterns),
        }
    )
)
