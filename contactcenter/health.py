"""GET /healthz, for load balancers and monitors: whether this process can use its database, its
channel layer and its media storage (README.md, "Health and logs").

The three checks run at once, each for at most TIMEOUT seconds: a SELECT on the database, a
message sent to a throwaway channel and received back, a tiny object written, read and deleted.
The answer is 200 {"status": "ok", "checks": {...}} or 503 naming what failed, by the name of
the check and the kind of error only: no address, no message text, nothing from the settings.
What went wrong is logged (sealdesk.health). No login, session, CSRF token or rate limit applies.
"""

import asyncio
import contextvars
import functools
import logging
import queue
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

from channels.layers import get_channel_layer
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger("sealdesk.health")

# Seconds each check may take. Load balancers wait a few seconds for an answer (HAProxy's check
# by default 2 s, AWS's 5 s): a slower database or store counts as down.
TIMEOUT = 2.0
# Where the storage check writes; scripts/backup leaves it out.
STORAGE_FOLDER = "health"


class _Thread:
    """A daemon thread that runs one kind of blocking check after another. A database or store
    that hangs holds only its own thread: the polls after it wait behind it (and time out), no
    pile of threads grows meanwhile, and the process still stops at once (PostgreSQL's pool
    waits 30 s for a connection that cannot be made, which a ThreadPoolExecutor's worker would
    make Daphne's exit wait for)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.work: queue.SimpleQueue[tuple[Callable[[], None], Future[None]]] = queue.SimpleQueue()
        self.started = False
        self.lock = threading.Lock()

    def run(self, check: Callable[[], None]) -> Future[None]:
        """Queue CHECK, with the caller's context (its log lines carry the request's id)."""
        with self.lock:
            if not self.started:
                threading.Thread(target=self._serve, name=self.name, daemon=True).start()
                self.started = True
        done: Future[None] = Future()
        self.work.put((functools.partial(contextvars.copy_context().run, check), done))
        return done

    def _serve(self) -> None:
        while True:
            check, done = self.work.get()
            if not done.set_running_or_notify_cancel():
                continue  # its poll timed out before it started
            try:
                check()
            except BaseException as failure:  # handed to the poll waiting for it
                done.set_exception(failure)
            else:
                done.set_result(None)


def _check_database() -> None:
    """Read a row of the migrations table: the database answers, and it is Sealdesk's."""
    table = connection.ops.quote_name(MigrationRecorder.Migration._meta.db_table)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} LIMIT 1")  # noqa: S608 (Django's table name)
            if cursor.fetchone() is None:
                raise LookupError("the database holds no migrations")
    finally:
        # Handed back to the pool on PostgreSQL; on SQLite a file opened afresh each poll, so
        # that a database file replaced meanwhile is the one checked.
        connection.close()


async def _check_channel_layer() -> None:
    """Send a message to a new channel of this process's layer and receive it back."""
    layer = get_channel_layer()
    if layer is None:
        raise LookupError("no channel layer is configured")
    name = await layer.new_channel()
    ping = {"type": "health.ping", "nonce": secrets.token_hex(8)}
    try:
        await layer.send(name, ping)
        if await layer.receive(name) != ping:
            raise ValueError("the channel layer gave back another message")
    finally:
        # As when a consumer leaves: a receive cancelled while it waits makes the layer forget the
        # channel (the Redis pub/sub layer unsubscribes it, the in-memory one drops its queue).
        waiting = asyncio.ensure_future(layer.receive(name))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)


def _check_storage() -> None:
    """Write a tiny object to the media storage, read it back and delete it."""
    body = secrets.token_bytes(16)
    name = default_storage.save(f"{STORAGE_FOLDER}/{secrets.token_hex(8)}", ContentFile(body))
    try:
        with default_storage.open(name, "rb") as stored:
            if stored.read() != body:
                raise ValueError("the storage gave back other bytes")
    finally:
        default_storage.delete(name)


def _in_thread(check: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    thread = _Thread(f"health-{check.__name__.removeprefix('_check_')}")

    async def run() -> None:
        await asyncio.wrap_future(thread.run(check))

    return run


CHECKS: dict[str, Callable[[], Awaitable[None]]] = {
    "database": _in_thread(_check_database),
    "channel_layer": _check_channel_layer,
    "storage": _in_thread(_check_storage),
}


async def _run(name: str, check: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    started = time.monotonic()
    error = None
    try:
        await asyncio.wait_for(check(), TIMEOUT)
    except TimeoutError:
        error = "timeout"
        logger.warning("health check %s failed: no answer within %s s", name, TIMEOUT)
    except Exception as failure:  # any failure is the answer
        error = type(failure).__name__
        logger.warning("health check %s failed: %s: %s", name, error, str(failure)[:300])
    result: dict[str, Any] = {
        "ok": error is None,
        "ms": round((time.monotonic() - started) * 1000, 1),
    }
    if error is not None:
        result["error"] = error
    return result


@never_cache
@require_safe
async def healthz(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database, the channel layer and the storage work, else 503."""
    results = await asyncio.gather(*(_run(name, check) for name, check in CHECKS.items()))
    checks = dict(zip(CHECKS, results, strict=True))
    failed = [name for name, result in checks.items() if not result["ok"]]
    body: dict[str, Any] = {"status": "fail" if failed else "ok", "checks": checks}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)
