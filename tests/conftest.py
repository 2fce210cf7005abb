"""Fixtures for every test file: one tenant's staff, an outsider tenant's, live servers."""

import inspect
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.cache import cache
from django.db import connections

from agents.models import Agent
from chat.group_commit import close_writer_connections
from sealdesk_client.client import AgentClient
from tests.factories import PASSWORD, Staff, make_staff
from tests.harness import ROOT
from tests.live import (
    FAST_PASSWORD_HASHER,
    DaphneServer,
    DemoSite,
    LiveServer,
    LoadBalancedServer,
    load_balanced,
)


@pytest.fixture(scope="session", autouse=True)
def _close_database_pools(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    # PostgreSQL's pooled connections would otherwise keep the test database open when
    # pytest-django drops it at the end of the run.
    yield
    with django_db_blocker.unblock():
        for connection in connections.all():
            connection.close()  # hands a pooled connection back, so close_pool can end it
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()  # type: ignore[attr-defined]


@pytest.fixture(scope="session", autouse=True)
def _flush_postgresql_by_delete() -> Iterator[None]:
    """Empty PostgreSQL's tables after a transactional test with DELETE instead of TRUNCATE.

    TRUNCATE of every table took 0.24 s a test (it makes new files for each table), DELETE of
    the few rows a test leaves takes a fraction of it; Django's foreign keys are deferred, so
    the order does not matter inside flush's one transaction. Sequences are reset as before."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def delete(
        self: DatabaseOperations,
        style: Any,
        tables: list[str],
        *,
        reset_sequences: bool = False,
        allow_cascade: bool = False,
    ) -> list[str]:
        if reset_sequences or not tables:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        # Names of the models' own tables, quoted: no input reaches this.
        return [f"DELETE FROM {self.quote_name(table)};" for table in tables]  # noqa: S608

    DatabaseOperations.sql_flush = delete  # type: ignore[method-assign,assignment]
    yield
    DatabaseOperations.sql_flush = truncate  # type: ignore[method-assign]


@pytest.fixture
def acme(db: None) -> Staff:
    """Acme's staff: Ada (tenant admin), Sam (supervisor), Alice (agent), all in team Support."""
    return make_staff("Acme", "acme", ("ada", "sam", "alice"))


@pytest.fixture
def globex(db: None) -> Staff:
    """Globex's staff, outsiders to Acme: Oscar (tenant admin), Olga (supervisor), Otto (agent)."""
    return make_staff("Globex", "globex", ("oscar", "olga", "otto"))


@pytest.fixture
def root(db: None) -> AbstractUser:
    """Rita, a platform superuser who manages every tenant."""
    user: AbstractUser = get_user_model().objects.create_superuser(
        "rita", "rita@example.com", PASSWORD
    )
    return user


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Rate-limit counters live in the cache: each test starts with none."""
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # The Daphne processes of live tests hash with the same (tests/live.py).
    settings.PASSWORD_HASHERS = [FAST_PASSWORD_HASHER]


@pytest.fixture
def daphne(transactional_db: None, settings: Any, tmp_path: Path) -> Iterator[LiveServer]:
    """A Daphne process serving this test's (committed) database, its own media folder, and
    mail written as files into tmp_path/"mail" (the process's mail is not this one's outbox).
    On the scale-out configuration, two processes behind HAProxy, the customer side on one and
    the agent side on the other (tests/live.py, load_balanced)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    server = (LoadBalancedServer if load_balanced() else DaphneServer)(
        env={
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",
        }
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def demo_site(acme: Staff, daphne: LiveServer) -> Iterator[str]:
    """The demo customer page (scripts/demo_site.py) on its own origin, embedding Acme's widget."""
    site = DemoSite(daphne.url, acme.tenant.widget_id)
    acme.tenant.allowed_origins = site.origin
    acme.tenant.save()
    site.start()
    yield site.origin
    site.stop()


@pytest.fixture
async def alice(acme: Staff, daphne: LiveServer) -> AsyncIterator[AgentClient]:
    """Acme's agent Alice as a Python client, logged in on a live server and available."""
    client = AgentClient(daphne.url, "alice", PASSWORD)
    await client.login()
    await client.connect()
    await client.set_presence(Agent.Presence.AVAILABLE)
    yield client
    await client.close()


@pytest.fixture
async def _close_orm_thread_connections() -> AsyncIterator[None]:
    yield
    # The async ORM and database_sync_to_async run in a worker thread whose connection nothing
    # else closes; left open, it keeps PostgreSQL's test database busy when pytest-django
    # drops it at the end of the run.
    await sync_to_async(connections.close_all)()
    await sync_to_async(close_writer_connections)()  # those of chat/group_commit.py's writers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every async test the fixture that closes its worker thread's connection."""
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.fixturenames.append("_close_orm_thread_connections")


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where a browser test's screenshots go: pytest's tmp_path, or, with SEALDESK_SCREENSHOTS=1,
    docs/screenshots/ for the README."""
    if os.environ.get("SEALDESK_SCREENSHOTS") == "1":
        folder = ROOT / "docs" / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path
