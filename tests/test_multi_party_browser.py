"""One chat, many people, in Chromium with five browsers (issue 11's "done when"): Carla chats with
Alice on a page whose tag pins Acme's organisation key; Sam, Acme's supervisor, watches from his
board the whole time; Alice consults Bob with a staff note and hands the chat to him (a warm
transfer); Sam whispers to Bob; Bob parks the chat and logs out; Carla comes back the next
morning to Carol, who reads everything, notes included. Every member change is an epoch a member
signed, Carla's page never holds a staff note, and the server's database, log and media hold
none of the words."""

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from agents.models import Tenant
from tests.browser import (
    accept_offer,
    agent_says,
    chromium,
    csp_violations,
    customer_says,
    open_page,
    open_widget,
    outside_playwright,
    start_chat,
)
from tests.factories import Staff, make_agent
from tests.live import DaphneServer, stored_text
from tests.test_transfer_browser import ask_bob, log_in_approved, note_for_staff, pinned_acme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "I was charged twice for order 1234."
WORDS = (
    "charged twice",
    "order 1234",
    "refund the second",  # Sam's whisper
    "bank statement",  # the transfer note
    "take it from here",  # Bob's whisper back
    "IBAN ends in 42",
    "refund is on its way",
)


def test_alice_bob_and_carol_answer_carla_with_sam_watching_and_no_word_reaches_the_server(
    acme: Staff, daphne: DaphneServer, settings: Any
) -> None:
    acme.tenant.supervision = Tenant.Supervision.BARGE
    outside_playwright(acme.tenant.save, update_fields=["supervision"])
    carol = outside_playwright(make_agent, acme.tenant, "carol", teams=(acme.team,))
    with pinned_acme(acme, daphne) as (bob, site), chromium() as browser:
        pages = [open_page(browser) for _ in range(5)]
        (alice, _), (bob_page, _), (carol_page, _), (sam, _), (customer, _) = pages
        log_in_approved(acme, alice, daphne.url, acme.agent, available=True)
        log_in_approved(acme, bob_page, daphne.url, bob, available=False)
        log_in_approved(acme, carol_page, daphne.url, carol, available=False)
        log_in_approved(acme, sam, daphne.url, acme.supervisor, available=False)

        # Carla is told before she starts that supervisors may read; Alice takes the chat.
        dialog = open_widget(customer, site.origin, "Acme")
        expect(dialog.locator(".disclosure")).to_contain_text("Supervisors at Acme may read")
        start_chat(dialog, "Carla", "", QUESTION)
        accept_offer(alice, QUESTION)
        bob_page.get_by_role("button", name="Available").click()
        expect(dialog).to_contain_text("You are chatting with Alice (verified by Acme)")

        # Sam opens it from his board, and reads it from its start.
        sam.locator("#board-chats li").get_by_role("button", name="Monitor").click()
        expect(sam.locator("#messages")).to_contain_text(QUESTION)
        expect(dialog).to_contain_text("Sam, a supervisor, can now read this conversation.")
        agent_says(alice, "I see two payments for order 1234; one moment.")
        expect(sam.locator("#messages")).to_contain_text("I see two payments")

        # Alice consults Bob with a staff note and hands him the chat.
        ask_bob(alice, "Transfer", note="Carla sent a bank statement; refund the second payment?")
        bob_page.locator("#offers li").get_by_role("button", name="Accept").click()
        expect(bob_page.locator("#messages li.note")).to_contain_text("bank statement")
        expect(alice.get_by_text("No active conversations.")).to_be_visible()
        expect(dialog).to_contain_text("You are now talking to Bob.")
        note_for_staff(bob_page, "Thanks Alice, I take it from here.")
        expect(sam.locator("#messages")).to_contain_text("take it from here")

        # Sam whispers to Bob; Carla's page never holds it.
        sam.get_by_label("Your reply").fill("Yes: refund the second payment.")
        sam.get_by_role("button", name="Whisper to the agents").click()
        expect(bob_page.locator("#messages li.note").last).to_contain_text("refund the second")
        agent_says(bob_page, "I will refund it; please send the IBAN for it.")
        expect(dialog).to_contain_text("please send the IBAN")

        # Bob parks it until Carla answers, and his day ends.
        bob_page.get_by_role("button", name="Park").click()
        expect(bob_page.get_by_text("No active conversations.")).to_be_visible()
        expect(dialog.locator("p.state")).to_contain_text("This chat is on hold.")
        bob_page.get_by_role("button", name="Offline").click()
        bob_page.get_by_role("button", name="Log out").click()

        # The next morning: Carla writes, Carol takes the chat and reads all of it.
        carol_page.get_by_role("button", name="Available").click()
        customer_says(dialog, "My IBAN ends in 42.")
        accept_offer(carol_page, QUESTION)
        messages = carol_page.locator("#messages")
        for line in ("I see two payments", "IBAN ends in 42", "please send the IBAN"):
            expect(messages).to_contain_text(line)
        for note in ("bank statement", "take it from here", "Yes: refund the second"):
            expect(messages.locator("li.note", has_text=note)).to_have_count(1)
        expect(dialog).to_contain_text("You are now talking to Carol.")
        agent_says(carol_page, "Thank you Carla: the refund is on its way.")
        expect(dialog).to_contain_text("the refund is on its way")
        expect(sam.locator("#messages")).to_contain_text("the refund is on its way")

        # Carla's page never held a staff note.
        for note in ("bank statement", "take it from here", "refund the second"):
            expect(dialog).not_to_contain_text(note)
        for page, problems in pages:
            assert csp_violations(page) == []
            assert problems.errors == []

    everything = outside_playwright(stored_text)
    log = daphne.log.read_text(errors="replace")
    media = [p.read_bytes() for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    for words in WORDS:
        assert words not in everything, f"the database holds {words!r}"
        assert words not in log, f"the server's log holds {words!r}"
        assert not any(words.encode() in blob for blob in media)
