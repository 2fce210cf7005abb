"""HAProxy in front of two processes (scripts/haproxy.cfg): what customers' browsers ask for reaches
one, everything else the other, websockets upgrade through it, and a chat crosses between them.

The routing is checked on both configurations, with HAProxy in front of two small servers that
answer with their names: they show where each of the app's paths goes, what headers arrive, and
that a websocket and a file part pass whole. A chat between two Daphne processes needs the Redis
channel layer of the scale-out configuration (the embedded default's in-memory one cannot cross
processes), so the test that holds one is defined there only; there the `daphne` fixture of every
live and browser test is such a pair (tests/live.py, load_balanced).
"""

import base64
import hashlib
import json
import socket
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
from django.urls import reverse

from chat import widget_files
from chat.routing import websocket_urlpatterns
from sealdesk_client.client import AgentClient, ConversationClient, Customer
from tests.factories import Staff
from tests.harness import HAProxy
from tests.live import LiveServer, LoadBalancedServer, load_balanced

WIDGET = "wid_" + "A" * 22
UPLOAD = uuid.UUID(int=7)
WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
PRECHAT = {"name": "Carla", "email": "carla@example.org", "question": "Is 4711 on its way?"}


def customer_side_paths() -> list[str]:
    """Paths of what a customer's browser asks for: the widget's file, its strings, its API."""
    uploads = reverse("widget_uploads", args=[WIDGET])
    return [
        reverse("widget_config", args=[WIDGET]),
        reverse("start_conversation", args=[WIDGET]),
        uploads,
        f"{uploads}/{UPLOAD}/parts/3",
        reverse("widget_file", args=["0" * widget_files.VERSION_DIGITS]),
        reverse("widget_catalogue", args=["0" * 64]),
    ]


def agent_side_paths() -> list[str]:
    """Paths of everything else: the dashboard and its uploads, login, admin, static files."""
    uploads = reverse("agent_uploads")
    return [
        "/",
        reverse("dashboard"),
        uploads,
        f"{uploads}/{UPLOAD}/parts/3",
        reverse("login"),
        reverse("admin:index"),
        reverse("json_catalogue"),
        "/static/sealdesk/chat.js",
        "/twilio/",
        # Near misses of the customer side's prefixes.
        f"/dashboard/api/widget/{WIDGET}/config",
        "/widgets/",
    ]


class _SideServer(ThreadingHTTPServer):
    """A small server that answers every request with its SIDE's name and what it received."""

    daemon_threads = True

    def __init__(self, side: str) -> None:
        super().__init__(("127.0.0.1", 0), _SideHandler)
        self.side = side

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Say nothing of the kept-alive connections that the proxy resets when it stops."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _SideHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self) -> None:
        side = cast(_SideServer, self.server).side
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.upgrade(side)
            return
        received = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps(
            {
                "side": side,
                "path": self.path,
                "host": self.headers["Host"],
                "origin": self.headers["Origin"],
                # HAProxy adds a header line of its own; Django joins them, as this does.
                "forwarded_for": ", ".join(self.headers.get_all("X-Forwarded-For", [])),
                "received": len(received),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = answer

    def upgrade(self, side: str) -> None:
        """Accept the websocket, then answer one line on it with the side's name."""
        key = self.headers["Sec-WebSocket-Key"].encode()
        accept = base64.b64encode(hashlib.sha1(key + WEBSOCKET_GUID).digest()).decode()  # noqa: S324 (RFC 6455)
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        line = self.rfile.readline()
        self.wfile.write(f"{side} {self.path} ".encode() + line)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[str]:
    """HAProxy with scripts/haproxy.cfg in front of two small servers named agent and customer."""
    agent, customer = _SideServer("agent"), _SideServer("customer")
    for server in (agent, customer):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    haproxy = HAProxy(agent.address, customer.address)
    haproxy.start()
    yield haproxy.url
    haproxy.stop()
    for server in (agent, customer):
        server.shutdown()
        server.server_close()


def ask(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> Any:
    """Return what the small server that URL reaches says it received."""
    request = urllib.request.Request(url, body, headers or {}, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        return json.load(reply)


def open_websocket(url: str, path: str, origin: str) -> str:
    """Open a websocket on PATH through the proxy, write a line; return the line written back."""
    host = url.removeprefix("http://")
    address, port = host.split(":")
    key = base64.b64encode(b"sixteen byte key").decode()
    with socket.create_connection((address, int(port)), timeout=10) as connection:
        connection.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        reply = connection.makefile("rb")
        status = reply.readline()
        assert status.split()[1] == b"101", status
        while reply.readline() not in (b"\r\n", b""):
            pass
        connection.sendall(b"hello through the tunnel\n")
        return reply.readline().decode()


def test_the_widgets_paths_reach_the_customer_side_and_every_other_path_the_agent_side(
    proxy: str,
) -> None:
    for path in customer_side_paths():
        assert ask(f"{proxy}{path}")["side"] == "customer", path
    for path in agent_side_paths():
        assert ask(f"{proxy}{path}")["side"] == "agent", path
    part = reverse("widget_uploads", args=[WIDGET]) + f"/{UPLOAD}/parts/0"
    assert ask(f"{proxy}{part}", "PUT", b"\0")["side"] == "customer"
    assert ask(f"{proxy}{reverse('login')}", "POST", b"\0")["side"] == "agent"


def test_websockets_upgrade_through_the_proxy_each_to_its_side(proxy: str) -> None:
    # Every socket the app serves is here: a new one must be given its side.
    assert {str(route.pattern) for route in websocket_urlpatterns} == {
        "ws/agent/",
        "ws/widget/<str:widget_id>/",
    }
    tunnel = "hello through the tunnel\n"
    widget_socket = f"/ws/widget/{WIDGET}/"
    page = "https://www.acme.example"
    assert open_websocket(proxy, widget_socket, page) == f"customer {widget_socket} {tunnel}"
    assert open_websocket(proxy, "/ws/agent/", proxy) == f"agent /ws/agent/ {tunnel}"


def test_host_and_origin_pass_unchanged_and_the_proxy_adds_the_clients_address(
    proxy: str,
) -> None:
    """The dashboard's socket compares Origin with Host, the widget's Origin with the tenant's
    allowed origins (contactcenter/websocket_origin.py, chat/consumers.py); with
    FORWARDED_FOR_HOPS=1 rate limits count the address the proxy appends, not one a client
    wrote (chat/limits.py)."""
    config = reverse("widget_config", args=[WIDGET])
    page = "https://www.acme.example"
    seen = ask(f"{proxy}{config}", headers={"Origin": page, "X-Forwarded-For": "203.0.113.9"})
    assert seen["host"] == proxy.removeprefix("http://")
    assert seen["origin"] == page
    assert seen["forwarded_for"] == "203.0.113.9, 127.0.0.1"


def test_a_whole_file_part_passes_the_proxy(proxy: str) -> None:
    part = reverse("widget_uploads", args=[WIDGET]) + f"/{UPLOAD}/parts/0"
    largest = 4 * 1024 * 1024 + 16  # chat/uploads.py, MAX_PART_BYTES
    assert ask(f"{proxy}{part}", "PUT", b"\1" * largest)["received"] == largest


def bodies(side: ConversationClient) -> list[str]:
    return [message.get("body", "") for message in side.messages()]


if load_balanced():

    async def test_a_customer_and_an_agent_on_two_processes_chat_through_the_proxy(
        acme: Staff, daphne: LiveServer, alice: AgentClient
    ) -> None:
        """Carla's browser side reaches one Daphne process and Alice's the other, by the
        processes' own logs, and their messages cross between them through Redis."""
        assert isinstance(daphne, LoadBalancedServer)
        carla = Customer(daphne.url, acme.tenant.widget_id, "https://www.acme.example")
        try:
            await carla.start(acme.team.pk, PRECHAT)
            chat = await alice.accept_next_offer()
            await chat.send_text("It left the warehouse today.")
            await carla.wait_until(lambda: "It left the warehouse today." in bodies(carla))
            await carla.send_text("Thank you!")
            await chat.wait_until(lambda: "Thank you!" in bodies(chat))
        finally:
            await carla.close()

        assert daphne.agent_side.pid != daphne.customer_side.pid
        agent_side = daphne.agent_side.log.read_text(errors="replace")
        customer_side = daphne.customer_side.log.read_text(errors="replace")
        widget = acme.tenant.widget_id
        assert '"POST /accounts/login/"' in agent_side
        assert '"WSCONNECT /ws/agent/"' in agent_side
        assert f'"POST /api/widget/{widget}/conversations"' in customer_side
        assert f'"WSCONNECT /ws/widget/{widget}/"' in customer_side
        assert "/ws/widget/" not in agent_side
        assert "/api/widget/" not in agent_side
        assert "/ws/agent/" not in customer_side
        assert "POST /accounts/login/" not in customer_side
