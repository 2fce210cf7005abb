"""A local stand-in for Twilio's TaskRouter API, and signed callbacks as Twilio sends them.

Twilio cannot be reached from these machines (nor from CI), so the twilio SDK's outgoing calls
go to this recording HTTP server instead (settings.TWILIO_API_BASE_URL): the requests are the
SDK's own, with the same paths, form bodies and Basic authentication; the tests assert them
exactly. It answers with the fields of Twilio's resources that Sealdesk reads. Callbacks to
Sealdesk are signed with the twilio library's RequestValidator, as Twilio signs them.
"""

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator


def sid(prefix: str) -> str:
    """Return a fresh SID of the given kind, such as WK followed by 32 hex digits."""
    return prefix + secrets.token_hex(16)


def signed(url: str, params: dict[str, str], token: str) -> dict[str, str]:
    """Return the X-Twilio-Signature header Twilio would send for a POST of PARAMS to URL."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


@dataclass
class Call:
    method: str
    path: str
    form: dict[str, str]
    user: str  # the Basic auth user name: the Account SID
    password: str  # the auth token
    at: float = 0.0  # time.monotonic() when it arrived
    response: dict[str, Any] = field(default_factory=dict)  # what this server answered


class TwilioApi:
    """The recording server. `resources` maps a path to the JSON a GET of it returns."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.resources: dict[str, dict[str, Any]] = {}
        self.failures: list[int] = []  # statuses to answer the next POSTs with, in order
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                call = api._record(self, {})
                found = api.resources.get(self.path)
                if found is None:
                    self._answer(call, 404, {"code": 20404, "message": "not found", "status": 404})
                else:
                    self._answer(call, 200, found)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                call = api._record(self, form)
                with api._lock:
                    failure = api.failures.pop(0) if api.failures else None
                if failure:
                    failed = {"code": 20500, "message": "failed", "status": failure}
                    self._answer(call, failure, failed)
                else:
                    self._answer(call, *api._answer_post(self.path, form))

            def _answer(self, call: Call, status: int, body: dict[str, Any]) -> None:
                call.response = body
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _record(self, handler: BaseHTTPRequestHandler, form: dict[str, str]) -> Call:
        user, password = "", ""
        auth = handler.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        call = Call(handler.command, handler.path, form, user, password, time.monotonic())
        with self._lock:
            self.calls.append(call)
        return call

    def _answer_post(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")  # v1 Workspaces WS Tasks [WT [Reservations WR]]
        if parts[3:] == ["Tasks"]:
            task = {"sid": sid("WT"), "workspace_sid": parts[2], "assignment_status": "pending"}
            return 201, {**task, "attributes": form.get("Attributes", "{}")}
        if parts[3] == "Tasks" and len(parts) == 5:
            return 200, {"sid": parts[4], "assignment_status": form.get("AssignmentStatus")}
        if parts[3] == "Tasks" and len(parts) == 7:
            return 200, {"sid": parts[6], "reservation_status": form.get("ReservationStatus")}
        if parts[3] == "Workers" and len(parts) == 5:
            return 200, {"sid": parts[4], "activity_sid": form.get("ActivitySid")}
        return 404, {"code": 20404, "message": f"no {path}", "status": 404}

    def wait_for(
        self, predicate: Callable[[Call], bool], count: int = 1, timeout: float = 15
    ) -> list[Call]:
        """Wait until COUNT recorded calls match PREDICATE; return them."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [call for call in self.calls if predicate(call)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} such calls, got {found} of {self.calls}")
            time.sleep(0.02)

    def posts(self, suffix: str = "") -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == "POST" and c.path.endswith(suffix)]
