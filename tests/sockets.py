"""A websocket test client that tells refused connections apart, as a browser would see them,
and holds every frame it receives to the contract (sealdesk_client/frames.py)."""

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from contactcenter.asgi import application
from sealdesk_client import frames

AGENT_ORIGIN = b"http://localhost"  # in ALLOWED_HOSTS by default
AGENT_HOST = b"localhost"  # the dashboard's socket must come from a page of its own origin


class Socket(WebsocketCommunicator):  # type: ignore[misc]
    """A WebsocketCommunicator whose open() reports a close that follows the handshake.

    Sealdesk refuses a socket by accepting it and closing it at once with a 44xx code, so that
    browsers see the code (a handshake refused outright reaches them as 1006).
    """

    def __init__(self, application: Any, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(application, path, *args, **kwargs)
        self.pending: list[dict[str, Any]] = []
        self.socket = "agent" if path.startswith("/ws/agent/") else "widget"

    async def open(self) -> tuple[bool, int | None]:
        """Connect; return (True, None), or (False, close code) when the server refused."""
        connected, code = await self.connect()
        if not connected:
            return False, code
        # receive_nothing waits without cancelling the application, as a timed-out receive would.
        if await self.receive_nothing(timeout=0.2):
            return True, None  # a socket that waits for the client to speak first
        first = await super().receive_output(timeout=1)
        if first["type"] == "websocket.close":
            return False, first.get("code")
        self.pending.append(first)
        return True, None

    async def receive_output(self, timeout: float = 1) -> dict[str, Any]:  # noqa: ASYNC109
        if self.pending:
            return self.pending.pop(0)
        output: dict[str, Any] = await super().receive_output(timeout)
        return output

    async def receive_frame(self, timeout: float = 3) -> dict[str, Any]:  # noqa: ASYNC109
        """Return the next frame, after checking that it fits the contract for this socket."""
        frame: dict[str, Any] = json.loads(await self.receive_from(timeout=timeout))
        assert frames.problems(self.socket, "server", frame) == [], frame
        return frame


def session_cookie(user: User | None) -> bytes:
    """Return the Cookie header of a fresh session of USER (empty for nobody)."""
    if user is None:
        return b""
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def open_agent_socket(
    user: User | None, device: str = "", origin: bytes = AGENT_ORIGIN
) -> tuple[Socket, bool, int | None]:
    """Open the dashboard socket as USER on DEVICE; return it, whether it opened, and the close
    code if it was refused."""
    cookie = await database_sync_to_async(session_cookie)(user)
    path = f"/ws/agent/?device={device}" if device else "/ws/agent/"
    headers = [(b"origin", origin), (b"host", AGENT_HOST), (b"cookie", cookie)]
    socket = Socket(application, path, headers=headers)
    connected, code = await socket.open()
    return socket, connected, code


async def open_widget_socket(widget_id: str, origin: str) -> tuple[Socket, bool, int | None]:
    """Open a widget socket from a page of ORIGIN; return it, whether it opened, and the close
    code if it was refused."""
    socket = Socket(application, f"/ws/widget/{widget_id}/", headers=[(b"origin", origin.encode())])
    connected, code = await socket.open()
    return socket, connected, code
