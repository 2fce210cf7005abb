"""A bare Channels echo consumer for Daphne: the ceiling that bench/chat_load.py compares with.

Serve with DJANGO_SETTINGS_MODULE=bench.echo_settings:
    daphne -b 127.0.0.1 -p PORT bench.echo_asgi:application
and send text frames to ws://127.0.0.1:PORT/echo/.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.echo_settings")
django.setup()

# Channels and the URL resolver need the settings above.
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class Echo(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels has no type information
    """Send every frame straight back: no parsing, no database, no channel layer."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)


application = ProtocolTypeRouter({"websocket": URLRouter([path("echo/", Echo.as_asgi())])})
