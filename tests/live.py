"""Live servers on the test database, and what they stored, for browser and client tests.

Browser tests need websockets and a server in another process, as in production; a
subprocess also lets a test stop and restart the server mid-conversation. How a Daphne
process starts and stops is tests/harness.py's, shared with bench/. On the scale-out
configuration (REDIS_URL set) the `daphne` fixture serves from two processes behind HAProxy
(LoadBalancedServer), so that every chat the live tests hold crosses processes.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlsplit, urlunsplit

from django.core.files.storage import default_storage
from django.db import connection

from tests.harness import ROOT, Daphne, LoadBalancedDaphne, free_port, wait_for_url


def test_database_url() -> str:
    """Return a DATABASE_URL naming the database this test run uses."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


# Real hashing costs ~0.25 s a user and a login, and is not what these tests are about.
FAST_PASSWORD_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


def _served_env(env: dict[str, str] | None) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Every test client starts its chats from 127.0.0.1; test_rate_limits.py checks
        # the limits themselves.
        "CHAT_STARTS_PER_MINUTE": "0",
        "CHAT_STARTS_PER_HOUR": "0",
        "TENANT_CHAT_STARTS_PER_MINUTE": "0",
        "TENANT_MAX_WAITING_CHATS": "0",
        # The same fast hasher as the test process's (tests/conftest.py).
        "PASSWORD_HASHERS": FAST_PASSWORD_HASHER,
        **(env or {}),
    }


class DaphneServer(Daphne):
    """Daphne serving the app on this test run's database, started and stopped by the test."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(
            "contactcenter.asgi:application", _served_env(env), ready_path="/accounts/login/"
        )


def load_balanced() -> bool:
    """Whether the `daphne` fixture serves from two processes behind HAProxy: on the scale-out
    configuration, whose Redis channel layer carries a chat between processes, as the embedded
    default's in-memory one cannot."""
    return bool(os.environ.get("REDIS_URL"))


class LoadBalancedServer(LoadBalancedDaphne):
    """DaphneServer's app in two processes behind HAProxy, the customer side on one and the agent
    side on the other (tests/harness.py), with DaphneServer's interface."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        # One proxy appends the client's address to X-Forwarded-For (scripts/haproxy.cfg).
        super().__init__(
            "contactcenter.asgi:application",
            _served_env({"FORWARDED_FOR_HOPS": "1", **(env or {})}),
            ready_path="/accounts/login/",
        )


# What the `daphne` fixture gives: the two have the same interface.
LiveServer: TypeAlias = DaphneServer | LoadBalancedServer


class DemoSite:
    """The demo customer page on a free port: another origin than the app, with a strict CSP."""

    def __init__(
        self, app_url: str, widget_id: str, org_key: str | None = None, snippet: str | None = None
    ) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.command = [
            sys.executable,
            "scripts/demo_site.py",
            "--app",
            app_url,
            "--widget-id",
            widget_id,
            "--port",
            str(self.port),
            *(["--org-key", org_key] if org_key else []),
            *(["--snippet", snippet] if snippet else []),
        ]
        self.log = Path(tempfile.mkstemp(prefix="demo-site-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_url(f"{self.origin}/", 10, self.process, self.log)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def stored_text() -> str:
    """Return every row of every table as text, to search for plaintext."""
    rows: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (our own table names)
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def stored_media(directory: str = "uploads") -> list[str]:
    """Return the names of every object in Django's default storage below DIRECTORY."""
    try:
        folders, files = default_storage.listdir(directory)
    except FileNotFoundError:  # local disk: the folder was never made
        return []
    names = [f"{directory}/{name}" for name in files]
    for folder in folders:
        names += stored_media(f"{directory}/{folder}")
    return names
