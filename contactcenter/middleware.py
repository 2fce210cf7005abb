"""Response headers that every page shares, and the id of each request and websocket for the
log (contactcenter/logs.py)."""

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.locale import LocaleMiddleware

from contactcenter import logs

access_log = logging.getLogger("sealdesk.access")

# Only our own scripts, styles and sockets: no inline code, nothing from other hosts.
# 'self' in connect-src also covers ws:// and wss:// to this host (CSP Level 3).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",  # blob: previews of images decrypted in the page
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Add the Content-Security-Policy header unless a view set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


class PageLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware for the pages people read, in their browser's language; not for
    the widget's files and API, whose answers are the same in every language (the widget picks
    its own strings): they keep one cached copy, without Vary: Accept-Language."""

    NOT_PAGES = ("/widget/", "/api/widget/", "/healthz")

    def process_request(self, request: HttpRequest) -> None:
        if not request.path_info.startswith(self.NOT_PAGES):
            super().process_request(request)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if request.path_info.startswith(self.NOT_PAGES):
            return response
        return super().process_response(request, response)


def _logged_path(request: HttpRequest) -> str:
    """Return the request's path (never its query) with the URL's secret parts, such as a
    set-password link's token, replaced."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    if match is not None:
        for name, value in match.kwargs.items():
            if logs.is_secret(name) and isinstance(value, str) and value:
                path = path.replace(value, logs.REDACTED)
    return path


class RequestIdMiddleware:
    """Give each request an id: the one the ASGI layer gave it (AsgiRequestIdMiddleware), else a
    proxy's X-Request-ID if it is a short safe token, else a new one. It is request.request_id
    (the audit log keeps it), on every log line written while the request is handled, and in the
    response's X-Request-ID; one access line a request follows, without query or body.

    First in MIDDLEWARE, so that every other middleware's lines carry the id too."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._handle_async(request)
        started = time.monotonic()
        with logs.handling(self._given(request)):
            return self._end(request, self.get_response(request), started)

    async def _handle_async(self, request: HttpRequest) -> HttpResponseBase:
        started = time.monotonic()
        with logs.handling(self._given(request)):
            return self._end(request, await self.get_response(request), started)

    def _given(self, request: HttpRequest) -> str:
        scope = getattr(request, "scope", None) or {}
        given = scope.get("request_id") or logs.accepted_or_new(request.headers.get("X-Request-ID"))
        request.request_id = given  # type: ignore[attr-defined]
        return str(given)

    def _end(
        self, request: HttpRequest, response: HttpResponseBase, started: float
    ) -> HttpResponseBase:
        response.headers["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        took = round((time.monotonic() - started) * 1000, 1)
        # A monitor polls /healthz every few seconds: its answers are not worth a line each,
        # unless they say something failed.
        quiet = request.path_info == "/healthz" and response.status_code == 200
        path = _logged_path(request)
        access_log.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s %s %.1f ms",
            request.method,
            path,
            response.status_code,
            took,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": took,
            },
        )
        return response


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class AsgiRequestIdMiddleware:
    """Give each HTTP request and each websocket connection its id before Django or Channels see
    it (contactcenter/asgi.py): in the scope as "request_id", on every log line written while it
    is handled (Django's own "Not Found" lines come after its middleware, and a consumer's for as
    long as its socket is open), and in the HTTP response's X-Request-ID. A websocket's end gets
    an access line: its path (never its query), whether it was accepted, its close code and how
    long it was open."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = logs.accepted_or_new(_header(scope, b"x-request-id"))
        scope = {**scope, "request_id": given}
        with logs.handling(given):
            if scope["type"] == "http":
                await self.app(scope, receive, _answering_with_id(send, given))
            else:
                await self._websocket(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        seen: dict[str, Any] = {"accepted": False, "code": None}

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" and seen["code"] is None:
                seen["code"] = message.get("code", 1005)
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "websocket.accept":
                seen["accepted"] = True
            elif message["type"] == "websocket.close" and seen["code"] is None:
                seen["code"] = message.get("code", 1000)
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        finally:
            took = round((time.monotonic() - started) * 1000, 1)
            access_log.info(
                "WS %s %s %s after %.1f ms",
                scope.get("path", ""),
                "accepted" if seen["accepted"] else "refused",
                seen["code"],
                took,
                extra={
                    "method": "WS",
                    "path": scope.get("path", ""),
                    "accepted": seen["accepted"],
                    "close_code": seen["code"],
                    "duration_ms": took,
                },
            )


def _answering_with_id(send: Send, given: str) -> Send:
    """Return SEND adding X-Request-ID to the response's headers unless Django put it there
    (it does, in RequestIdMiddleware; not on the few answers Django gives before its middleware,
    such as a 400 for a body it cannot read)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            if not any(bytes(key).lower() == b"x-request-id" for key, _ in headers):
                headers.append((b"x-request-id", given.encode("latin-1")))
                message = {**message, "headers": headers}
        await send(message)

    return sending


class RefuseNulMiddleware:
    """Answer 400 to a request whose path, query string or headers hold a NUL character, raw or
    percent-encoded: no database text holds one (PostgreSQL refuses it, with an error a look-up
    would not expect), so no look-up may ever see one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = (request.META.get("RAW_URI") or request.get_full_path()).encode(errors="replace")
        headers = [str(value).encode(errors="replace") for value in request.headers.values()]
        if _holds_nul(request.path, raw, headers):
            return HttpResponse(
                "NUL characters are not allowed.\n",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


def _holds_nul(path: str, raw: bytes, headers: list[bytes]) -> bool:
    return (
        "\x00" in path
        or b"%00" in raw.lower()
        or b"\x00" in raw
        or any(b"\x00" in value for value in headers)
    )
