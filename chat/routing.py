from channels.auth import AuthMiddlewareStack
from django.urls import path

from chat import consumers
from contactcenter.websocket_origin import SameOriginValidator

websocket_urlpatterns = [
    # The dashboard: Django session, and only from this site's own pages (scheme, host and port).
    path(
        "ws/agent/",
        SameOriginValidator(AuthMiddlewareStack(consumers.AgentConsumer.as_asgi())),
    ),
    # The widget: no cookies; the consumer checks the page against the tenant's allowed origins.
    path("ws/widget/<str:widget_id>/", consumers.CustomerConsumer.as_asgi()),
]
