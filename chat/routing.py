from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from chat import consumers

websocket_urlpatterns = [
    # The dashboard: Django session, and only from this site's own pages.
    path(
        "ws/agent/",
        AllowedHostsOriginValidator(AuthMiddlewareStack(consumers.AgentConsumer.as_asgi())),
    ),
    # The widget: no cookies; the consumer checks the page against the tenant's allowed origins.
    path("ws/widget/<str:widget_id>/", consumers.CustomerConsumer.as_asgi()),
]
