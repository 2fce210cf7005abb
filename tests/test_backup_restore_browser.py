"""Backups in Chromium (issue 15, part 7): Carla asks Alice about a parcel and sends its label as a
file; Alice answers and closes the chat. scripts/backup backs the server up while it runs;
scripts/restore puts the backup into a new, empty database (a SQLite file, or a PostgreSQL
database on the scale-out run), a new, empty media folder (or S3 bucket) and a new data folder; a
new Daphne serves it on the same address, as a real restore would, since Alice's device keys live
in her browser under that origin. Alice, still signed in (the restored secret key keeps her
session), opens the chat from her history, decrypted, and downloads the label again. The backup
holds none of the chat's words, and a second restore over the restored database is refused."""

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.browser import (
    accept_offer,
    agent_says,
    chromium,
    csp_violations,
    customer_says,
    log_in_agent,
    open_page,
    open_widget,
    start_chat,
)
from tests.factories import PASSWORD, Staff
from tests.harness import ROOT
from tests.live import DaphneServer, DemoSite

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Where is parcel 7781?"
REPLY = "Parcel 7781 left the Zurich depot this morning."
THANKS = "Thank you, I attach its label."
LABEL = b"Shipping label: parcel 7781, Bahnhofstrasse 1, Zurich\n"


def _s3() -> Any:
    import boto3

    options: dict[str, Any] = settings.STORAGES["default"]["OPTIONS"]  # type: ignore[assignment]
    return boto3.client(
        "s3",
        endpoint_url=options["endpoint_url"],
        region_name=options["region_name"],
        aws_access_key_id=options["access_key"],
        aws_secret_access_key=options["secret_key"],
    )


@pytest.fixture
def empty_bucket() -> Iterator[Any]:
    """Return a function that makes a new, empty bucket on the S3 server in use; all are
    emptied and removed afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"backup-test-{secrets.token_hex(6)}"
        _s3().create_bucket(Bucket=name)
        made.append(name)
        return name

    yield make
    if not made:
        return
    s3 = _s3()
    for name in made:
        for item in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """Return the DATABASE_URL of a new, empty database of the configured kind: a SQLite file
    that does not exist yet, or a PostgreSQL database made for the test and dropped after it."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    import psycopg

    name = f"restored_{secrets.token_hex(6)}"
    with psycopg.connect(configured, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # our own name, hex digits
    yield urlunsplit(urlsplit(configured)._replace(path=f"/{name}"))
    with psycopg.connect(configured, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(script: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / script), str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def backed_up_text(folder: Path) -> bytes:
    """Return every byte of the backup as a reader of its files would see them: PostgreSQL's
    compressed dump as the SQL it restores."""
    blobs = [p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.suffix != ".pgdump"]
    dump = folder / "database.pgdump"
    if dump.exists():
        as_sql = ["pg_restore", "--file=-", str(dump)]
        blobs.append(subprocess.run(as_sql, capture_output=True, check=True).stdout)
    return b"\n".join(blobs)


def close_chat(agent: Page) -> None:
    agent.get_by_label("Wrap-up").select_option(label="Resolved")
    agent.get_by_role("button", name="Close conversation").click()
    expect(agent.locator("#ended")).to_be_visible()


def test_alice_reads_her_chat_and_its_file_after_a_restore_from_backup(
    acme: Staff, tmp_path: Path, empty_database: str, empty_bucket: Any
) -> None:
    media = {"MEDIA_ROOT": str(tmp_path / "media")}
    restored_media = {"MEDIA_ROOT": str(tmp_path / "restored-media")}
    if settings.S3_BUCKET:
        media["S3_BUCKET"], restored_media["S3_BUCKET"] = empty_bucket(), empty_bucket()
    served = DaphneServer(env=media)
    served.start()
    site = DemoSite(served.url, acme.tenant.widget_id)
    acme.tenant.allowed_origins = site.origin
    acme.tenant.save()
    site.start()
    label = tmp_path / "label-7781.txt"
    label.write_bytes(LABEL)
    backup = tmp_path / "backup"
    restored_env = {
        **served.env,
        **restored_media,
        "DATABASE_URL": empty_database,
        "SEALDESK_DATA_DIR": str(tmp_path / "restored-data"),
    }
    restored_env.pop("SEALDESK_WIDGET_DIR", None)  # the restored data folder's, from the backup
    restored = DaphneServer(env=restored_env)
    # The same origin as before: Alice's browser keeps her device's keys under it.
    restored.port, restored.url = served.port, served.url
    try:
        with chromium() as browser:
            (alice, alice_problems), (carla_page, _) = open_page(browser), open_page(browser)
            log_in_agent(alice, served.url, "alice", PASSWORD)
            carla = open_widget(carla_page, site.origin, "Acme")
            start_chat(carla, "Carla", "", QUESTION)
            accept_offer(alice, QUESTION)
            agent_says(alice, REPLY)
            expect(carla).to_contain_text("Zurich depot")
            customer_says(carla, THANKS)
            carla.locator("input[type=file]").set_input_files(str(label))
            expect(alice.get_by_role("button", name="Download label-7781.txt")).to_be_visible(
                timeout=30_000
            )
            close_chat(alice)
            alice.goto("about:blank")
            carla_page.goto("about:blank")

            # The documented procedure: back up while the server runs, restore into empty
            # places with the environment of the server to come, then start that server.
            taken = run("backup", backup, served.env)
            assert taken.returncode == 0, taken.stderr
            site.stop()
            served.stop()
            put_back = run("restore", backup, restored_env)
            assert put_back.returncode == 0, put_back.stderr
            parts = json.loads((backup / "manifest.json").read_text())["media"]
            assert parts and all(name.startswith("uploads/") for name in parts)
            assert f"media: {len(parts)} objects restored" in put_back.stdout
            restored.start()

            alice_problems.errors.clear()
            alice.goto(f"{restored.url}/dashboard/")
            expect(alice.locator("#connection")).to_have_text("Connected")
            alice.locator("#history-list").get_by_role("button", name="Carla · Support").click()
            expect(alice.locator("#chat-heading")).to_have_text("Earlier chat with Carla")
            messages = alice.locator("#messages")
            for words in (QUESTION, REPLY, THANKS, "You ended the conversation."):
                expect(messages).to_contain_text(words)
            with alice.expect_download() as download:
                alice.get_by_role("button", name="Download label-7781.txt").click()
            assert Path(download.value.path()).read_bytes() == LABEL
            assert csp_violations(alice) == []
            assert alice_problems.errors == []

        # The server never held the chat's words, so neither does its backup.
        held = backed_up_text(backup)
        for words in (QUESTION, REPLY, THANKS, LABEL.decode()):
            assert words.encode() not in held
        # A restore never overwrites: the restored database has tables now.
        again = run("restore", backup, restored_env)
        assert again.returncode == 1
        assert "holds tables already" in again.stderr
    finally:
        restored.stop()
        site.stop()
        served.stop()
