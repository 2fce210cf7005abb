"""GET /healthz (issue 15, part 7): 200 on the configured setup (SQLite, in-memory layer and
local disk, or PostgreSQL, Redis and S3), 503 naming the check that failed when the database,
the channel layer or the storage is broken, each broken for real; no login, session, CSRF token,
language redirect or rate limit in the way, and nothing of the configuration in the answer."""

import copy
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import AsyncClient, override_settings

from tests.harness import Daphne, free_port
from tests.live import stored_media

pytestmark = pytest.mark.django_db

CHECKS = {"database", "channel_layer", "storage"}


async def test_health_is_ok_on_the_configured_setup_without_login_session_or_language() -> None:
    client = AsyncClient()
    response = await client.get("/healthz", headers={"Accept-Language": "de"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    assert all(check["ok"] for check in body["checks"].values()), body
    # No session or CSRF cookie is made, and no language is chosen.
    assert "Set-Cookie" not in response.headers
    assert "Content-Language" not in response.headers
    assert "Accept-Language" not in response.headers.get("Vary", "")
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Content-Type"] == "application/json"
    # The storage check's object is gone again.
    assert stored_media("health") == []


def channels_held(layer: Any) -> int:
    """Return how many channels the layer keeps a queue (in memory) or a subscription (Redis)
    for in this process."""
    return len(layer._get_layer().channels if hasattr(layer, "_get_layer") else layer.channels)


async def test_health_can_be_polled_often_and_only_read() -> None:
    client = AsyncClient()
    await client.get("/healthz")
    held = channels_held(get_channel_layer())
    started = time.monotonic()
    for _ in range(20):
        assert (await client.get("/healthz")).status_code == 200
    # Cheap: 20 polls well within a second each (a few milliseconds each on SQLite), and each
    # poll's channel is let go of: nothing grows with the number of polls.
    assert time.monotonic() - started < 20
    assert channels_held(get_channel_layer()) == held
    assert (await client.head("/healthz")).status_code == 200
    # A POST is not a health check; refused as a method, not for a missing CSRF token.
    assert (await client.post("/healthz")).status_code == 405


async def test_health_names_the_channel_layer_when_redis_is_unreachable() -> None:
    # A real Redis pub/sub layer (the scale-out one) pointed at a port nothing listens on.
    broken = {
        "default": {
            "BACKEND": "contactcenter.channel_layer.ScaleOutChannelLayer",
            "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{free_port()}/0"}]},
        }
    }
    with override_settings(CHANNEL_LAYERS=broken):
        response = await AsyncClient().get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failed"] == ["channel_layer"]
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]
    assert body["checks"]["channel_layer"]["error"]
    assert "redis" not in response.content.decode().lower()


def _broken_storage(tmp_path: Path) -> dict[str, Any]:
    """The configured media storage, broken: a bucket that does not exist on the S3 server in
    use, or a media folder where a file stands."""
    storages: dict[str, Any] = copy.deepcopy(settings.STORAGES)
    if settings.S3_BUCKET:
        storages["default"]["OPTIONS"]["bucket_name"] = f"missing-{secrets.token_hex(6)}"
    else:
        blocker = tmp_path / "media"
        blocker.write_text("a file, not a folder")
        storages["default"] = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker)},
        }
    return storages


async def test_health_names_the_storage_when_it_cannot_write(tmp_path: Path) -> None:
    with override_settings(STORAGES=_broken_storage(tmp_path)):
        response = await AsyncClient().get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["storage"]
    assert body["checks"]["storage"]["error"]
    assert body["checks"]["database"]["ok"] and body["checks"]["channel_layer"]["ok"]
    assert "missing-" not in response.content.decode()
    assert str(tmp_path) not in response.content.decode()


def _unreachable_database_url() -> tuple[str, str]:
    """Return a DATABASE_URL of the configured kind that cannot be opened, and the password in
    it: PostgreSQL on a port nothing listens on, or SQLite in a folder that does not exist."""
    password = f"pw-{secrets.token_hex(8)}"
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith("postgres"):
        parts = urlsplit(configured)
        where = f"sealdesk:{password}@127.0.0.1:{free_port()}"
        return urlunsplit(parts._replace(netloc=where)), password
    return f"sqlite:////nonexistent-{secrets.token_hex(4)}/sealdesk.sqlite3", password


def test_health_names_the_database_when_it_is_unreachable(tmp_path: Path) -> None:
    # A server process of its own, started on a database it cannot reach: the test process's
    # connections (and PostgreSQL's pool) cannot be pointed elsewhere for one request.
    url, password = _unreachable_database_url()
    server = Daphne(
        "contactcenter.asgi:application",
        {
            **os.environ,
            "DATABASE_URL": url,
            "MEDIA_ROOT": str(tmp_path / "media"),
            "ALLOWED_HOSTS": "127.0.0.1",
        },
    )
    with server:
        try:
            urllib.request.urlopen(f"{server.url}/healthz", timeout=10)  # noqa: S310 (http)
            raise AssertionError("the health check passed without a database")
        except urllib.error.HTTPError as answer:
            status, raw = answer.code, answer.read().decode()
            request_id = answer.headers["X-Request-ID"]

    assert status == 503, raw
    body = json.loads(raw)
    assert body["failed"] == ["database"]
    assert body["checks"]["database"]["error"]
    assert body["checks"]["channel_layer"]["ok"] and body["checks"]["storage"]["ok"]
    log = server.log.read_text(errors="replace")
    # The failure is logged, under the request's id, and the password is nowhere.
    failure = next(line for line in log.splitlines() if "health check database failed" in line)
    assert json.loads(failure)["request_id"] == request_id
    assert password not in raw and password not in log
    assert "127.0.0.1" not in raw and "nonexistent" not in raw
