"""What an agent sees in Chromium: log in, switch presence, reload, and it is kept."""

import re

import pytest
from playwright.sync_api import expect

from agents.models import Agent
from tests.browser import chromium_page, csp_violations
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_logs_in_switches_presence_and_finds_it_kept_after_reload(
    acme: Staff, daphne: DaphneServer
) -> None:
    with chromium_page() as (page, problems):
        page.goto(f"{daphne.url}/dashboard/")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()

        expect(page).to_have_url(f"{daphne.url}/dashboard/")
        expect(page.locator("#tenant-name")).to_have_text("Acme")
        expect(page.locator("#connection")).to_have_text("Connected")
        expect(page.get_by_text("No chats are waiting for you.")).to_be_visible()
        expect(page.get_by_text("No active conversations.")).to_be_visible()
        offline = page.get_by_role("button", name="Offline")
        available = page.get_by_role("button", name="Available")
        expect(offline).to_have_attribute("aria-pressed", "true")

        available.click()
        expect(available).to_have_attribute("aria-pressed", "true")
        expect(offline).to_have_attribute("aria-pressed", "false")
        page.wait_for_function(
            "() => fetch('/dashboard/').then(r => r.text()).then(t => "
            "t.includes('aria-pressed=\"true\">Available'))"
        )

        page.reload()
        expect(page.get_by_role("button", name="Available")).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(page.locator("#connection")).to_have_text("Connected")

        # A second tab of the same agent follows the change live, over the socket.
        other = problems.watch(page.context.new_page())
        other.goto(f"{daphne.url}/dashboard/")
        expect(other.locator("#connection")).to_have_text("Connected")
        other.get_by_role("button", name="Away").click()
        expect(page.get_by_role("button", name="Away")).to_have_attribute("aria-pressed", "true")

        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/accounts/login/"))

        assert csp_violations(page) == []
        assert csp_violations(other) == []
        assert problems.errors == []
    # Read the database once Playwright's event loop is gone (the ORM refuses to run inside it).
    acme.agent.refresh_from_db()
    assert acme.agent.presence == Agent.Presence.AWAY


def test_keyboard_alone_switches_presence(acme: Staff, daphne: DaphneServer) -> None:
    with chromium_page() as (page, problems):
        page.goto(f"{daphne.url}/accounts/login/")
        expect(page.get_by_label("Username")).to_be_focused()
        page.keyboard.type("sam")
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.locator("#tenant-name")).to_have_text("Acme")
        page.get_by_role("button", name="Away").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Away")).to_have_attribute("aria-pressed", "true")
        page.reload()
        expect(page.get_by_role("button", name="Away")).to_have_attribute("aria-pressed", "true")
        assert csp_violations(page) == []
        assert problems.errors == []


def test_tenant_admin_admin_pages_run_under_the_csp(acme: Staff, daphne: DaphneServer) -> None:
    with chromium_page() as (page, problems):
        page.goto(f"{daphne.url}/admin/")
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("link", name="Agents", exact=True)).to_be_visible()
        page.get_by_role("link", name="Agents", exact=True).click()
        expect(page.get_by_role("link", name="Alice")).to_be_visible()
        page.goto(f"{daphne.url}/admin/agents/agent/add/")
        page.get_by_label("Username").fill("carol")
        page.get_by_label("Display name").fill("Carol")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(
            page.get_by_text(re.compile(r"Set-password link for carol: http://"))
        ).to_be_visible()
        assert csp_violations(page) == []
        assert problems.errors == []
