"""A working agent's chats in Chromium, so that no reply goes to the wrong person: Alice answers
Carla and Dora at once, each chat keeps its own draft; Dora types, then her message arrives and
the typing line goes; Dora ends her chat, which leaves Alice's list and keeps no reply box; a
refusal reads as a sentence, never as a code."""

import pytest
from playwright.sync_api import expect

from tests.browser import (
    agent_says,
    carla_then_dora,
    chromium,
    csp_violations,
    customer_says,
    log_in_agent,
    open_page,
)
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_two_chats_keep_their_drafts_and_an_ended_one_takes_no_reply(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chromium() as browser:
        pages = [open_page(browser) for _ in range(3)]
        (alice, _), (carla_page, _), (dora_page, _) = pages
        log_in_agent(alice, daphne.url, "alice", PASSWORD)
        carla, dora = carla_then_dora(alice, carla_page, dora_page, demo_site)

        chats = alice.locator("#conversations")
        box = alice.get_by_label("Your reply")
        # Alice is in Dora's chat (the one she took last): she starts a reply, then switches.
        expect(alice.locator("#chat-heading")).to_have_text("Chat with Dora")
        box.fill("Dora, your new address is")
        chats.get_by_role("button", name="Carla · Support").click()
        expect(box).to_have_value("")
        box.fill("Carla, your parcel left")
        chats.get_by_role("button", name="Dora · Support").click()
        expect(box).to_have_value("Dora, your new address is")
        box.fill("")
        agent_says(alice, "Yes: what is the new address?")
        expect(dora).to_contain_text("what is the new address?")
        chats.get_by_role("button", name="Carla · Support").click()
        expect(box).to_have_value("Carla, your parcel left")

        # Dora types: Alice sees it in Dora's chat only, and it goes when her message arrives.
        chats.get_by_role("button", name="Dora · Support").click()
        dora.get_by_label("Your message").press_sequentially("5 Elm")
        typing = alice.locator("#typing")
        expect(typing).to_have_text("The customer is typing…")
        customer_says(dora, "5 Elm Street")
        expect(alice.locator("#messages")).to_contain_text("5 Elm Street")
        expect(typing).to_be_hidden()

        # Dora ends the chat: it leaves the list, and no reply box is left to write into.
        dora.get_by_role("button", name="End chat").click()
        dora.get_by_role("button", name="Yes, end the chat").click()
        expect(alice.locator("#ended")).to_be_visible()
        expect(box).to_be_hidden()
        expect(alice.locator("#wrap-up")).to_be_hidden()
        expect(chats.get_by_role("button", name="Dora · Support")).to_have_count(0)
        expect(alice.locator("#messages")).to_contain_text("Dora ended the conversation.")

        # A refusal is a sentence: Carla's widget pins no organisation key, so her chat cannot
        # go back to a queue.
        chats.get_by_role("button", name="Carla · Support").click()
        alice.get_by_role("button", name="Park").click()
        problem = alice.locator("#device-error")
        expect(problem).to_have_text(
            "Not parked: This customer's chat cannot go back to a queue; "
            "ask a colleague in instead."
        )
        assert "customer_unpinned" not in alice.content()
        expect(carla.locator("p.state")).to_contain_text("You are chatting with Alice")

        for page, problems in pages:
            assert csp_violations(page) == []
            assert problems.errors == []
