"""A tenant admin, as a new user would, in Chromium: Ada makes Acme's organisation key on the
organisation page and downloads its encrypted backup; Alice's dashboard waits for approval
showing its fingerprint; Ada approves the device with that fingerprint and copies the widget's
tag, which now pins the key, from Acme's admin page; a customer on another origin chats with
Alice under that tag, sees her certified name, and both see the same safety number. Ada loads the
key from the backup into a second browser, and a wrong passphrase opens nothing."""

import base64
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, expect

from agents.models import Device
from chat.models import Conversation, Event
from sealdesk_client import protocol
from tests.browser import (
    accept_offer,
    agent_says,
    chromium,
    csp_violations,
    log_in_agent,
    open_page,
    open_widget,
    outside_playwright,
    start_chat,
)
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer, DemoSite

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSPHRASE = "correct horse battery staple"


def test_ada_makes_the_key_approves_alices_device_and_alice_chats_certified(
    acme: Staff, daphne: DaphneServer, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with chromium() as browser:
        ada, ada_problems = open_page(browser)
        alice, alice_problems = open_page(browser)
        customer, customer_problems = open_page(browser)

        log_in_agent(ada, daphne.url, "ada", PASSWORD, available=False)
        ada.get_by_role("link", name="Organisation key").click()
        expect(ada.locator("#key-status")).to_have_text("No organisation key.")
        ada.get_by_label("Passphrase for the backup file").fill(PASSPHRASE)
        ada.get_by_label("The passphrase again").fill(PASSPHRASE)
        with ada.expect_download() as downloaded:
            ada.get_by_role("button", name="Make the organisation key").click()
        backup_path = tmp_path / downloaded.value.suggested_filename
        downloaded.value.save_as(backup_path)
        expect(ada.locator("#key-status")).to_contain_text("This browser holds it.")
        org = outside_playwright(lambda: acme.tenant.org_keys.get().public_key)
        backup = json.loads(backup_path.read_text())
        assert backup["public_key"] == org
        assert backup["kdf"] == {
            **backup["kdf"],
            "name": "PBKDF2-HMAC-SHA-256",
            "iterations": 600_000,
        }
        assert "seed" not in backup_path.read_text()

        # Alice's new browser waits, showing its fingerprint; the router offers her nothing.
        log_in_agent(alice, daphne.url, "alice", PASSWORD, available=False)
        alice.get_by_role("button", name="Available").click()
        device = outside_playwright(lambda: Device.objects.get(agent=acme.agent))
        shown = protocol.fingerprint(device.id)
        expect(alice.locator("#device-state")).to_contain_text(f"Its fingerprint is {shown}")

        ada.reload()
        row = ada.locator("#devices tr", has_text="Alice")
        expect(row).to_contain_text(shown)
        expect(row).to_contain_text("Waiting for approval")
        asked: list[str] = []

        def confirm(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        ada.once("dialog", confirm)
        row.get_by_role("button", name="Approve Alice's device").click()
        expect(row).to_contain_text("Approved")
        assert asked == [
            f"Certify Alice as agent, for the browser with fingerprint {shown}? Approve only if "
            "that person's screen shows exactly this fingerprint."
        ]

        expect(alice.locator("#device-state")).to_be_hidden(timeout=15_000)
        alice.get_by_role("button", name="Available").click()

        # Ada copies the tag from Acme's admin page: it pins the build and the organisation key.
        ada.goto(f"{daphne.url}/admin/agents/tenant/{acme.tenant.pk}/change/")
        tag = ada.locator("#embed-snippet").input_value()
        fingerprint = protocol.fingerprint(protocol.org_key_id(base64.b64decode(org)))
        assert f'data-org-key="{fingerprint}"' in tag
        site = DemoSite(daphne.url, acme.tenant.widget_id, snippet=tag)
        acme.tenant.allowed_origins = site.origin
        outside_playwright(acme.tenant.save)
        site.start()
        request.addfinalizer(site.stop)
        dialog = open_widget(customer, site.origin, "Acme")
        start_chat(dialog, "Carla", "", "Is my order on its way?")
        accept_offer(alice, "Is my order on its way?")
        agent_says(alice, "Yes, it left today.")
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text("it left today")
        expect(dialog).to_contain_text("You are chatting with Alice (verified by Acme).")
        dialog.get_by_text("Your chat key").click()
        safety = alice.locator("#safety-number").inner_text()
        assert re.fullmatch(r"(\d{5} ){11}\d{5}", safety)
        expect(dialog.locator(".fingerprint code.safety")).to_have_text(safety)
        conversation = outside_playwright(Conversation.objects.get, tenant=acme.tenant)
        records = outside_playwright(
            lambda: [
                e.body["record"]
                for e in Event.objects.filter(conversation=conversation, kind=Event.Kind.EPOCH)
            ]
        )
        agents = [m for r in records for m in r["members"] if m["role"] == "agent"]
        assert agents and all(m["cert"] and m["cert"]["name"] == "Alice" for m in agents)

        # Another browser of Ada's holds nothing until it loads the backup.
        second, second_problems = open_page(browser)
        log_in_agent(second, daphne.url, "ada", PASSWORD, available=False)
        second.goto(f"{daphne.url}/dashboard/organisation/")
        expect(second.locator("#key-status")).to_contain_text("This browser does not hold it.")
        expect(second.get_by_role("button", name=re.compile("Revoke"))).to_have_count(0)
        second.get_by_label("Backup file", exact=True).set_input_files(backup_path)
        second.get_by_label("Its passphrase").fill("not the passphrase")
        second.get_by_role("button", name="Load the key into this browser").click()
        expect(second.locator("#key-problem")).to_contain_text(
            "The passphrase does not open this backup."
        )
        second.get_by_label("Backup file", exact=True).set_input_files(backup_path)
        second.get_by_label("Its passphrase").fill(PASSPHRASE)
        second.get_by_role("button", name="Load the key into this browser").click()
        expect(second.locator("#key-status")).to_contain_text("This browser holds it.")
        expect(second.get_by_role("button", name="Revoke Alice's device")).to_be_visible()

        # A third browser asks for the key; Ada's first browser gives it, sealed to that browser.
        third, third_problems = open_page(browser)
        log_in_agent(third, daphne.url, "ada", PASSWORD, available=False)
        third.goto(f"{daphne.url}/dashboard/organisation/")
        third.get_by_role("button", name="Ask for the key").click()
        expect(third.locator("#ask-status")).to_contain_text("This browser's fingerprint is")
        asking = re.search(
            r"fingerprint is ((?:[0-9A-F]{4} ){7}[0-9A-F]{4})",
            third.locator("#ask-status").inner_text(),
        )
        assert asking
        ada.goto(f"{daphne.url}/dashboard/organisation/")
        give = ada.locator("#asks-list li", has_text=asking.group(1))
        ada.once("dialog", confirm)
        give.get_by_role("button", name="Give the key to Ada's browser").click()
        expect(third.locator("#key-status")).to_contain_text(
            "This browser holds it.", timeout=15_000
        )
        assert asking.group(1) in asked[-1]

        for page in (ada, alice, customer, second, third):
            assert csp_violations(page) == []
        assert ada_problems.errors == [] and alice_problems.errors == []
        assert customer_problems.errors == [] and second_problems.errors == []
        assert third_problems.errors == []
