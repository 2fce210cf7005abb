"""Structured logs (issue 15, part 7): one JSON object a line, each line written while an HTTP
request or a websocket is handled carrying its id, which the response's X-Request-ID repeats; a
proxy's safe id kept, a hostile one replaced; and no password, cookie, session id, CSRF token,
Authorization, Twilio signature or request body in any line. The lines are read as the configured
console handler (settings.LOGGING) writes them, filters and all."""

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.test import Client

from audit.models import Entry
from contactcenter import logs
from contactcenter.asgi import application
from contactcenter.middleware import AsgiRequestIdMiddleware
from tests.factories import PASSWORD, Staff

NEW_ID = re.compile(r"[0-9a-f]{32}")
Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def written() -> Iterator[Lines]:
    """Return what the configured console handler writes from now on, as parsed JSON lines."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    before, shown = handler.setStream(stream), handler.formatter
    handler.setFormatter(logs.formatter("json"))  # whatever LOG_FORMAT this run has
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    handler.setFormatter(shown)
    if before is not None:
        handler.setStream(before)


def raw_text(lines: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(line) for line in lines)


async def get(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    """GET PATH from the ASGI application Daphne serves, request id middleware and all."""
    sent = [(b"host", b"localhost"), *(headers or [])]
    answer: dict[str, Any] = await HttpCommunicator(
        application, "GET", path, headers=sent
    ).get_response(timeout=10)
    return answer


def response_ids(answer: dict[str, Any]) -> list[str]:
    return [value.decode() for key, value in answer["headers"] if key.lower() == b"x-request-id"]


@pytest.mark.django_db
async def test_a_requests_log_lines_carry_its_id_and_the_response_says_it(written: Lines) -> None:
    answer = await get("/no-such-page/")

    assert answer["status"] == 404
    [given] = response_ids(answer)
    assert NEW_ID.fullmatch(given)
    lines = written()
    # Django's own "Not Found" line, written after its middleware is done, and the access line.
    not_found = next(line for line in lines if line["logger"] == "django.request")
    access = next(line for line in lines if line["logger"] == "sealdesk.access")
    assert not_found["message"] == "Not Found: /no-such-page/"
    assert not_found["level"] == "WARNING"
    assert access["message"].startswith("GET /no-such-page/ 404 ")
    assert (access["method"], access["path"], access["status"]) == ("GET", "/no-such-page/", 404)
    assert all(line["request_id"] == given for line in lines)
    assert all(line["time"].endswith("Z") for line in lines)

    # The next request has another id.
    other = await get("/no-such-page/")
    assert response_ids(other) != [given]


@pytest.mark.django_db
async def test_a_proxys_short_safe_request_id_is_kept(written: Lines) -> None:
    answer = await get("/no-such-page/", [(b"X-Request-ID", b"lb-7f3a9c01:443")])

    assert response_ids(answer) == ["lb-7f3a9c01:443"]
    assert {line["request_id"] for line in written()} == {"lb-7f3a9c01:443"}


@pytest.mark.parametrize(
    "hostile",
    [
        b'x" injected="1',
        b"two\nlines",
        b"<script>alert(1)</script>",
        b"../../etc/passwd",
        b"a" * 65,
        b"",
    ],
)
@pytest.mark.django_db
async def test_a_hostile_request_id_is_replaced(written: Lines, hostile: bytes) -> None:
    answer = await get("/no-such-page/", [(b"x-request-id", hostile)])

    [given] = response_ids(answer)
    assert NEW_ID.fullmatch(given)
    lines = written()
    assert lines and all(line["request_id"] == given for line in lines)
    if hostile:
        assert hostile.decode() not in raw_text(lines)


def test_no_line_carries_a_password_a_cookie_a_token_or_a_body(acme: Staff, written: Lines) -> None:
    client = Client()
    client.get("/accounts/login/")
    csrf = client.cookies["csrftoken"].value
    wrong = "Tr0ub4dor&3-not-alices"
    failed = client.post(
        "/accounts/login/",
        {"username": "alice", "password": wrong, "csrfmiddlewaretoken": csrf},
    )
    assert failed.status_code == 200
    # The audit log keeps the id the response named (audit/log.py reads request.request_id).
    entry = Entry.objects.get(action=Entry.Action.LOGIN_FAILED)
    assert entry.request_id == failed.headers["X-Request-ID"]
    signed_in = client.post(
        "/accounts/login/",
        {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": csrf},
    )
    assert signed_in.status_code == 302
    session = client.cookies["sessionid"].value
    client.get(
        "/dashboard/",
        headers={"Authorization": "Bearer widget-token-5e3c1a", "X-Twilio-Signature": "sig-9b8a7"},
    )
    # A post without its CSRF token: Django logs the refusal with the request in extra=.
    Client(enforce_csrf_checks=True).post(
        "/accounts/login/",
        {"username": "alice", "password": wrong},
        headers={"Cookie": f"sessionid={session}; csrftoken={csrf}"},
    )

    lines = written()
    loggers = {line["logger"] for line in lines}
    assert {"sealdesk.access", "sealdesk.audit", "django.security.csrf"} <= loggers, loggers
    assert all(NEW_ID.fullmatch(line["request_id"]) for line in lines)
    text = raw_text(lines)
    for secret in (wrong, PASSWORD, csrf, session, "widget-token-5e3c1a", "sig-9b8a7"):
        assert secret not in text
    assert "csrfmiddlewaretoken" not in text and "username=alice" not in text
    refusal = next(line for line in lines if line["logger"] == "django.security.csrf")
    assert refusal["request"] == "<WSGIRequest>"
    assert refusal["status_code"] == 403


@pytest.mark.django_db
def test_a_set_password_links_token_stays_out_of_the_access_line(written: Lines) -> None:
    response = Client().get("/accounts/set-password/MQ/cbx7qk-3f9e0a1b2c3d4e5f6a7b/")

    [access] = [line for line in written() if line["logger"] == "sealdesk.access"]
    assert access["request_id"] == response.headers["X-Request-ID"]
    assert access["path"] == "/accounts/set-password/MQ/[redacted]/"
    assert "cbx7qk" not in json.dumps(access)


def test_secret_fields_given_to_a_logger_are_redacted(written: Lines) -> None:
    logging.getLogger("tests.logging").warning(
        "refused %s",
        {"password": "hunter2", "username": "alice"},
        extra={
            "authorization": "Bearer abc123",
            "headers": {"Cookie": "sessionid=zzz999", "Accept": "text/html"},
            "meta": {"HTTP_X_TWILIO_SIGNATURE": "sig777", "HTTP_X_CSRFTOKEN": "tok555"},
            "scope_headers": [(b"cookie", b"csrftoken=qqq111"), (b"accept", b"*/*")],
        },
    )

    [line] = written()
    text = json.dumps(line)
    for secret in ("hunter2", "abc123", "zzz999", "sig777", "tok555", "qqq111"):
        assert secret not in text
    assert line["message"] == "refused {'password': '[redacted]', 'username': 'alice'}"
    assert line["authorization"] == "[redacted]"
    assert line["headers"] == {"Cookie": "[redacted]", "Accept": "text/html"}
    assert line["scope_headers"] == [["<bytes>", "[redacted]"], ["<bytes>", "<bytes>"]]
    assert "request_id" not in line  # written outside any request


class Echo(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Logs on connecting (here and in a worker thread, as database_sync_to_async code runs) and
    on each frame."""

    log = logging.getLogger("tests.socket")

    async def connect(self) -> None:
        self.log.info("connecting")
        await sync_to_async(self.log.info)("in a thread")
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.log.info("frame")
        await self.send(text_data="ok")


async def test_a_websockets_lines_carry_its_connections_id(written: Lines) -> None:
    app = AsgiRequestIdMiddleware(Echo.as_asgi())
    socket = WebsocketCommunicator(app, "/ws/echo/?device=d1", [(b"x-request-id", b"ws-probe-1")])
    assert (await socket.connect())[0]
    await socket.send_to(text_data="hello")
    assert await socket.receive_from() == "ok"
    await socket.disconnect()
    other = WebsocketCommunicator(app, "/ws/echo/")
    await other.connect()
    await other.disconnect()

    lines = written()
    first = [line for line in lines if line["request_id"] == "ws-probe-1"]
    assert [line["message"] for line in first[:3]] == ["connecting", "in a thread", "frame"]
    [end] = [line for line in first if line["logger"] == "sealdesk.access"]
    assert end["message"].startswith("WS /ws/echo/ accepted 1000 after ")
    assert (end["path"], end["accepted"], end["close_code"]) == ("/ws/echo/", True, 1000)
    second = {line["request_id"] for line in lines} - {"ws-probe-1"}
    assert len(second) == 1 and NEW_ID.fullmatch(second.pop())


def test_text_lines_for_development_carry_the_id_too() -> None:
    record = logging.LogRecord("sealdesk.access", logging.INFO, __file__, 1, "GET /", None, None)
    record.request_id = "abc123"
    assert logs.formatter("text").format(record).endswith(" INFO sealdesk.access [abc123] GET /")
    bare = logging.LogRecord("sealdesk.health", logging.WARNING, __file__, 1, "down", None, None)
    assert logs.formatter("text").format(bare).endswith(" WARNING sealdesk.health [-] down")
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        logs.formatter("xml")
