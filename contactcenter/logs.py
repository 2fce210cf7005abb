"""Log lines: one JSON object a line (or text, for development), each carrying the id of the HTTP
request or websocket connection it was written for, and no secret (README.md, "Health and logs").

The id lives in a context variable that contactcenter.middleware sets for the length of a request
or a connection: Django runs a request's synchronous code, and Channels a consumer's, in worker
threads with a copy of the context that was current, so their lines carry the id too. A task
started there inherits it as well; one that a process starts once, for everyone, from the first
connection that needs it (the sweeper) carries that connection's id while it lasts, unless it is
started with a context of its own. The filters belong on the handler (settings.LOGGING): a
logger's own filters would miss the lines other loggers pass up to it.
"""

import contextvars
import json
import logging
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any


class _Handling:
    """The request or connection being handled: its id until it is done, then None."""

    __slots__ = ("id",)

    def __init__(self, given: str) -> None:
        self.id: str | None = given


_handling: contextvars.ContextVar[_Handling | None] = contextvars.ContextVar(
    "handling", default=None
)

# An X-Request-ID from a proxy in front is kept when it is a short token of these characters, so
# that one id follows a request through the proxy's log and ours; anything else (spaces, quotes,
# newlines, a novel) is replaced, since it would be written into every line of the request.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

REDACTED = "[redacted]"
# Parts of the names of headers, cookies, form fields and extra= keys whose values are secrets:
# Authorization, Cookie and Set-Cookie, X-Twilio-Signature, sessionid, csrftoken,
# csrfmiddlewaretoken, X-CSRFToken, password1, api_key, secret_key, the customer token...
_SECRET_WORDS = (
    "authorization",
    "cookie",
    "password",
    "passwd",
    "secret",
    "token",
    "signature",
    "session",
    "csrf",
    "api-key",
    "apikey",
    "private",
)

# What every LogRecord has; anything else on a record came from extra= (or from our filter).
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "request_id"}
)


def current_request_id() -> str | None:
    """Return the id of the request or connection this code runs for, if any."""
    handling = _handling.get()
    return handling.id if handling is not None else None


@contextmanager
def handling(given: str) -> Iterator[None]:
    """Give lines written inside the block the id GIVEN, including those of the tasks and
    threads started from it; a task that outlives the block (one a process starts once, on its
    first connection, such as the Redis layer's receiver) writes without it afterwards."""
    current = _Handling(given)
    token = _handling.set(current)
    try:
        yield
    finally:
        current.id = None
        _handling.reset(token)


def accepted_or_new(incoming: str | None) -> str:
    """Return INCOMING if it is a short safe token, else a new random id."""
    if incoming and _SAFE_ID.fullmatch(incoming):
        return incoming
    return secrets.token_hex(16)


def is_secret(name: object) -> bool:
    """Whether a header, cookie, field or key of this name carries a secret."""
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    spelled = str(name).lower().replace("_", "-").removeprefix("http-")
    return any(word in spelled for word in _SECRET_WORDS)


def redact(value: Any) -> Any:
    """Return VALUE with the values of secret keys replaced, in mappings, lists and header pairs
    such as ASGI's [(b"cookie", b"...")]; anything else as it is."""
    if isinstance(value, Mapping):
        return {key: REDACTED if is_secret(key) else redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str | bytes) and is_secret(value[0]):
            return (value[0], REDACTED)
        return [redact(item) for item in value]
    return value


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_FIELDS}


class RequestIdFilter(logging.Filter):
    """Put the current request's or connection's id on the record, when there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = current_request_id()
        if current is not None:
            record.request_id = current
        return True


class RedactSecretsFilter(logging.Filter):
    """Replace the values of secret keys in a record's extra fields and in a mapping passed as an
    argument (a logged request.headers, COOKIES or POST), before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _extra_fields(record).items():
            setattr(record, key, REDACTED if is_secret(key) else redact(value))
        if isinstance(record.args, Mapping):
            record.args = redact(record.args)
        elif isinstance(record.args, tuple):
            record.args = tuple(
                redact(arg) if isinstance(arg, Mapping) else arg for arg in record.args
            )
        return True


def _plain(value: Any) -> Any:
    """Return VALUE as JSON can hold it; an object of another kind only by its type's name (a
    request or a scope passed in extra= holds headers and cookies)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    return f"<{type(value).__name__}>"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, request_id when there is one,
    the record's extra fields, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = getattr(record, "request_id", None)
        if current is not None:
            entry["request_id"] = current
        for key, value in _extra_fields(record).items():
            entry.setdefault(key, _plain(value))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry)


def formatter(kind: str) -> logging.Formatter:
    """Return the formatter LOG_FORMAT names: "json" (the default) or "text", for a person
    reading a terminal: time, level, logger, [request id] and message."""
    if kind == "json":
        return JsonFormatter()
    if kind == "text":
        return logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            defaults={"request_id": "-"},
        )
    raise ValueError(f'LOG_FORMAT must be "json" or "text", not {kind!r}.')
