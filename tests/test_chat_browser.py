"""In Chromium: the widget on a page of another origin, under that page's strict CSP, chatting
with an agent's dashboard both ways; then both reload and see the history, decrypted again."""

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from tests.browser import chromium, csp_violations, open_page
from tests.conftest import PASSWORD, Staff
from tests.live import DaphneServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Where is my parcel 4711?"
REPLY = "Hello, this is Alice. Let me check parcel 4711."
ANSWER = "Thank you, it was sent on Monday."


@pytest.fixture
def demo_site(acme: Staff, daphne: DaphneServer) -> Iterator[str]:
    """The demo customer page on its own origin, allowed to embed Acme's widget."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    acme.tenant.allowed_origins = origin
    acme.tenant.save()
    process = subprocess.Popen(
        [
            sys.executable,
            "scripts/demo_site.py",
            "--app",
            daphne.url,
            "--widget-id",
            acme.tenant.widget_id,
            "--port",
            str(port),
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{origin}/", timeout=1):  # noqa: S310 (http)
                break
        except OSError:
            time.sleep(0.1)
    yield origin
    process.terminate()
    process.wait(timeout=10)


def log_in_agent(page: Page, url: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#connection")).to_have_text("Connected")
    page.get_by_role("button", name="Available").click()
    expect(page.get_by_role("button", name="Available")).to_have_attribute("aria-pressed", "true")


def all_stored_text() -> str:
    rows: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (our own table names)
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def test_customer_on_another_origin_and_agent_chat_both_ways_and_keep_history(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chromium() as browser:
        agent, agent_problems = open_page(browser)
        customer, problems = open_page(browser)
        log_in_agent(agent, daphne.url)

        customer.goto(demo_site)
        widget = customer.locator("#sealdesk-widget")
        widget.get_by_role("button", name="Chat with us").click()
        dialog = widget.get_by_role("dialog", name="Chat with Acme")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_text("End-to-end encrypted")).to_be_visible()
        dialog.get_by_label("Name").fill("Carla Customer")
        dialog.get_by_label("Email (optional)").fill("carla@example.org")
        dialog.get_by_label("Your question").fill(QUESTION)
        dialog.get_by_role("button", name="Start chat").click()
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text(QUESTION)

        offer = agent.locator("#offers li")
        expect(offer).to_contain_text("Support")
        offer.get_by_role("button", name="Accept").click()
        expect(agent.locator("#messages")).to_contain_text(QUESTION)
        expect(agent.locator("#messages")).to_contain_text("Carla Customer <carla@example.org>")
        expect(agent.get_by_text("End-to-end encrypted")).to_be_visible()
        fingerprint = agent.locator("#customer-fingerprint").inner_text()
        assert re.fullmatch(r"([0-9A-F]{4} ){7}[0-9A-F]{4}", fingerprint)
        expect(dialog).to_contain_text("Alice joined the chat.")
        expect(dialog.locator("p.state")).to_have_text("You are chatting with Alice.")
        expect(dialog.locator("details.fingerprint code")).to_have_text(fingerprint)

        agent.get_by_label("Your reply").fill(REPLY)
        agent.get_by_role("button", name="Send").click()
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text(REPLY)
        dialog.get_by_label("Your message").fill(ANSWER)
        dialog.get_by_role("button", name="Send").click()
        expect(agent.locator("#messages")).to_contain_text(ANSWER)

        # Both reload: the history comes back from the server and is decrypted again.
        agent.reload()
        expect(agent.locator("#messages")).to_contain_text(ANSWER)
        expect(agent.locator("#messages")).to_contain_text(QUESTION)
        customer.reload()
        dialog = customer.locator("#sealdesk-widget").get_by_role("dialog", name="Chat with Acme")
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text(REPLY)
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text(QUESTION)
        expect(dialog.locator(".warning")).to_have_count(0)
        expect(agent.locator("#messages .warning")).to_have_count(0)

        assert csp_violations(customer) == []
        assert csp_violations(agent) == []
        assert problems.errors == []
        assert agent_problems.errors == []

    stored = all_stored_text()
    for secret in ("Carla Customer", "carla@example.org", QUESTION, REPLY, ANSWER, "parcel 4711"):
        assert secret not in stored, secret
