"""The dashboard socket's Origin check: the same origin as the page, scheme, host and port.

Channels' AllowedHostsOriginValidator compares the Origin's host with ALLOWED_HOSTS and ignores
its scheme and port, so a page on another port of the same host (any local service, or a
plain-http page of an https site) could open a signed-in agent's socket with the agent's cookie.
This compares the Origin as Django's CSRF check does for a form post: it must be the origin the
socket was opened on (the Host header, itself one of ALLOWED_HOSTS, with https when the socket is
wss or a trusted proxy says so), or one of CSRF_TRUSTED_ORIGINS.
"""

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """Return (scheme, host, port) of an origin such as https://example.com:8443, or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def _secure(scope: dict[str, Any], headers: dict[bytes, bytes]) -> bool:
    if scope.get("scheme") == "wss":
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy:
        return False
    name, value = proxy
    header = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
    return bool(headers.get(header, b"").decode("latin-1").split(",")[0].strip() == value)


def same_origin(scope: dict[str, Any]) -> bool:
    """Return whether the websocket SCOPE was opened by a page of this site's own origin."""
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    origin = _origin(headers.get(b"origin", b"").decode("latin-1"))
    if origin is None:
        return False
    trusted = {_origin(url) for url in settings.CSRF_TRUSTED_ORIGINS}
    if origin in trusted:
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = "https" if _secure(scope, headers) else "http"
    return origin == _origin(f"{scheme}://{host}")


class SameOriginValidator:
    """ASGI middleware that refuses a websocket whose Origin is not this site's own."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not same_origin(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
