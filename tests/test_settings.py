"""Settings come from the environment alone: databases, channel layers, secrets, production."""

import gzip
import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import brotli
import pytest
from django.conf import settings
from storages.backends.s3 import S3Storage

from chat.widget_files import current_widget
from contactcenter.storage import SharedClientS3Storage
from tests.live import DaphneServer

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST", ""),
    "port": str(db.get("PORT", "")),
    "options": {k: str(v) for k, v in db.get("OPTIONS", {}).items()},
    "test_name": db["TEST"]["NAME"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_hosts": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts", []),
    "secret_key": settings.SECRET_KEY, "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS, "session_secure": settings.SESSION_COOKIE_SECURE,
    "storage": settings.STORAGES["default"]["BACKEND"],
    "forwarded_for_hops": settings.FORWARDED_FOR_HOPS,
    "storage_options": settings.STORAGES["default"].get("OPTIONS", {}),
    "transfer_threads": getattr(
        settings.STORAGES["default"].get("OPTIONS", {}).get("transfer_config"), "use_threads", None
    ),
}, default=repr))
"""


def run_with(
    env: dict[str, str], tmp_path: Path, code: str = PROBE
) -> subprocess.CompletedProcess[str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "S3_BUCKET",
            "S3_ENDPOINT_URL",
            "S3_ACCESS_KEY_ID",
            "S3_SECRET_ACCESS_KEY",
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "SECRET_KEY_FILE",
            "DEBUG",
            "HTTPS",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        }
    }
    full = {
        **base,
        "DJANGO_SETTINGS_MODULE": "contactcenter.settings",
        "SEALDESK_DATA_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code], env=full, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def probe(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    result = run_with(env, tmp_path)
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_default_is_sqlite_and_the_in_memory_layer(tmp_path: Path) -> None:
    found = probe({}, tmp_path)
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"] == str(tmp_path / "sealdesk.sqlite3")
    assert found["test_name"] == str(tmp_path / "test_sealdesk.sqlite3")
    assert found["options"]["init_command"] == "PRAGMA journal_mode=WAL;"
    assert found["layer"] == "contactcenter.channel_layer.ProcessChannelLayer"
    assert found["debug"] is False


def test_database_url_and_redis_url_switch_to_postgresql_and_redis(tmp_path: Path) -> None:
    found = probe(
        {
            "DATABASE_URL": "postgres://desk:pw@db.internal:6432/sealdesk",
            "REDIS_URL": "redis://cache.internal:6380/2",
        },
        tmp_path,
    )
    assert found["engine"] == "django.db.backends.postgresql"
    assert (found["name"], found["host"], found["port"]) == ("sealdesk", "db.internal", "6432")
    assert found["options"]["pool"] == str({"min_size": 2, "max_size": 20})
    assert found["test_name"] == "test_sealdesk"
    assert found["layer"] == "contactcenter.channel_layer.ScaleOutChannelLayer"
    assert found["layer_hosts"] == [
        {"address": "redis://cache.internal:6380/2", "max_connections": 1000}
    ]


def test_secret_key_comes_from_env_or_file_or_a_generated_installation_key(tmp_path: Path) -> None:
    assert probe({"SECRET_KEY": "k" * 60}, tmp_path)["secret_key"] == "k" * 60
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file-" + "f" * 50 + "\n")
    assert (
        probe({"SECRET_KEY_FILE": str(key_file)}, tmp_path)["secret_key"]
        == "from-a-file-" + "f" * 50
    )
    generated = probe({}, tmp_path)["secret_key"]
    assert len(generated) >= 50
    assert probe({}, tmp_path)["secret_key"] == generated  # kept across restarts
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_key_and_its_file_together_is_an_error(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("x" * 60)
    result = run_with({"SECRET_KEY": "y" * 60, "SECRET_KEY_FILE": str(key_file)}, tmp_path)
    assert result.returncode != 0
    assert "Set SECRET_KEY or SECRET_KEY_FILE, not both." in result.stderr


def test_production_profile_passes_check_deploy_without_warnings(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("production-" + "s3cr3t" * 10)
    env = {
        "SECRET_KEY_FILE": str(key_file),
        "DEBUG": "false",
        "HTTPS": "true",
        "ALLOWED_HOSTS": "desk.example.com",
    }
    result = run_with(
        env,
        tmp_path,
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert probe(env, tmp_path)["session_secure"] is True


@pytest.mark.parametrize("debug", ["true", "false"])
def test_without_https_check_deploy_names_the_missing_protections(
    tmp_path: Path, debug: str
) -> None:
    result = run_with(
        {"DEBUG": debug},
        tmp_path,
        "from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
    )
    assert result.returncode != 0
    assert "security.W012" in result.stderr  # SESSION_COOKIE_SECURE


def test_s3_bucket_switches_media_to_s3_compatible_storage(tmp_path: Path) -> None:
    assert probe({}, tmp_path)["storage"] == "django.core.files.storage.FileSystemStorage"
    secret = tmp_path / "s3-secret"
    secret.write_text("s3cr3t\n")
    found = probe(
        {
            "S3_BUCKET": "media",
            "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "S3_ACCESS_KEY_ID": "desk",
            "S3_SECRET_ACCESS_KEY_FILE": str(secret),
        },
        tmp_path,
    )
    assert found["storage"] == "contactcenter.storage.SharedClientS3Storage"
    options = found["storage_options"]
    assert options["bucket_name"] == "media"
    assert options["endpoint_url"] == "http://127.0.0.1:9000"
    assert (options["access_key"], options["secret_key"]) == ("desk", "s3cr3t")
    assert options["file_overwrite"] is True  # part names are unique: no HEAD per save
    assert found["transfer_threads"] is False  # no thread pool per 1 MiB part


def test_the_s3_storage_builds_one_client_per_process_not_one_per_request_thread() -> None:
    """Under ASGI each request's sync code runs on a new thread; django-storages' own S3Storage
    would build a boto3 session there every time (docs/BENCHMARKS.md, section 4)."""
    options = {
        "bucket_name": "media",
        "endpoint_url": "http://127.0.0.1:9",  # never contacted: building a client is offline
        "access_key": "desk",
        "secret_key": "s3cr3t",
    }

    def connections_from_two_threads(storage: S3Storage) -> list[object]:
        seen: list[object] = []
        for _ in range(2):
            thread = threading.Thread(target=lambda: seen.append(storage.connection))
            thread.start()
            thread.join()
        return seen

    first, second = connections_from_two_threads(SharedClientS3Storage(**options))
    assert first is second
    first, second = connections_from_two_threads(S3Storage(**options))
    assert first is not second  # what the subclass is for


@pytest.mark.django_db(transaction=True)
def test_with_static_root_the_widget_is_served_compressed_and_unchanged(tmp_path: Path) -> None:
    """scripts/run collects the static files: browsers then get brotli or gzip copies of the
    dashboard's modules, and the widget's bundle, which the app serves itself, compressed too."""
    static_root = tmp_path / "static"
    env = {**os.environ, "STATIC_ROOT": str(static_root)}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    widget = current_widget()
    server = DaphneServer(env={"STATIC_ROOT": str(static_root)})
    server.start()
    try:
        for path, source in (
            (widget.path, (settings.WIDGET_DIR / f"{widget.version}.js").read_bytes()),
            ("/static/sealdesk/protocol.js", (ROOT / "static/sealdesk/protocol.js").read_bytes()),
        ):
            for accepted, encoding, decompress in (
                ("br, gzip", "br", brotli.decompress),
                ("gzip", "gzip", gzip.decompress),
            ):
                request = urllib.request.Request(  # noqa: S310 (our own loopback server)
                    f"{server.url}{path}", headers={"Accept-Encoding": accepted}
                )
                with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
                    assert reply.headers["Content-Encoding"] == encoding
                    body = reply.read()
                assert len(body) < len(source) / 2
                assert decompress(body) == source
    finally:
        server.stop()


def test_a_site_that_trusts_its_proxy_counts_clients_behind_it(tmp_path: Path) -> None:
    """Rate limits key on the client: behind the one proxy that TRUST_X_FORWARDED_PROTO names,
    on the address it appends to X-Forwarded-For, unless FORWARDED_FOR_HOPS says otherwise."""
    assert probe({}, tmp_path)["forwarded_for_hops"] == 0
    assert probe({"TRUST_X_FORWARDED_PROTO": "true"}, tmp_path)["forwarded_for_hops"] == 1
    both = {"TRUST_X_FORWARDED_PROTO": "true", "FORWARDED_FOR_HOPS": "2"}
    assert probe(both, tmp_path)["forwarded_for_hops"] == 2
