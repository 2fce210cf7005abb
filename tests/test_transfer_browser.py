"""Two agents in one chat, in Chromium with three browsers: a customer on the demo page whose tag
pins Acme's organisation key, Alice and Bob on their dashboards, each approved by Ada. Alice hands
a chat over to Bob (a warm transfer), or asks him to join (a conference) and he leaves. Each
member change is an epoch a member's browser signed; the server stores none of the words."""

import asyncio
import base64
import re
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Locator, Page, expect

from agents.models import Agent, Device, OrgKey
from chat.models import Event
from sealdesk_client import protocol
from sealdesk_client.client import AgentClient
from tests.browser import (
    PageProblems,
    accept_offer,
    agent_says,
    approve_browser,
    chromium,
    csp_violations,
    customer_says,
    log_in_agent,
    open_page,
    open_widget,
    outside_playwright,
    start_chat,
)
from tests.factories import ORG_KEY, PASSWORD, Staff, make_agent
from tests.live import DaphneServer, DemoSite

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

T = TypeVar("T")

QUESTION = "Can I change the delivery address of order 1234?"


def note(writer: str, text: str) -> re.Pattern[str]:
    """A staff note as the dashboard shows it: its writer's certified name, the time its writer
    signed, then its text."""
    return re.compile(rf"^Staff note · {writer} · \d+:\d\d( [AP]M)?: {re.escape(text)}$")


@dataclass
class Desk:
    customer: Locator  # the widget's dialog
    alice: Page
    bob: Page
    pages: list[tuple[Page, PageProblems]]


def log_in_approved(staff: Staff, page: Page, url: str, agent: Agent, available: bool) -> None:
    """Log AGENT in on PAGE, have Ada approve its browser, and reload to take chats certified."""
    log_in_agent(page, url, agent.user.username, PASSWORD, available=False)
    expect(page.locator("#device-state")).to_contain_text("waiting for a tenant admin")
    approve_browser(staff, agent, ORG_KEY)
    page.reload()
    expect(page.locator("#connection")).to_have_text("Connected")
    expect(page.locator("#device-state")).to_be_hidden()
    if available:
        page.get_by_role("button", name="Available").click()
        expect(page.get_by_role("button", name="Available")).to_have_attribute(
            "aria-pressed", "true"
        )


@contextmanager
def pinned_acme(acme: Staff, daphne: DaphneServer) -> Iterator[tuple[Agent, DemoSite]]:
    """Give Acme an organisation key and Bob, an agent of its team; yield Bob and the demo page,
    serving the tag that pins the key."""
    outside_playwright(
        lambda: OrgKey.objects.create(
            tenant=acme.tenant, public_key=base64.b64encode(ORG_KEY.public_key).decode()
        )
    )
    bob = outside_playwright(make_agent, acme.tenant, "bob", teams=(acme.team,))
    site = DemoSite(daphne.url, acme.tenant.widget_id, org_key=protocol.fingerprint(ORG_KEY.id))
    acme.tenant.allowed_origins = site.origin
    outside_playwright(acme.tenant.save)
    site.start()
    try:
        yield bob, site
    finally:
        site.stop()


@pytest.fixture
def desk(acme: Staff, daphne: DaphneServer) -> Iterator[Desk]:
    """Acme with an organisation key; Carla asks a question on the demo page; Alice has taken the
    chat; Bob is logged in, approved and available."""
    with pinned_acme(acme, daphne) as (bob, site), chromium() as browser:
        pages = [open_page(browser) for _ in range(3)]
        (alice, _), (bob_page, _), (customer, _) = pages
        log_in_approved(acme, alice, daphne.url, acme.agent, available=True)
        log_in_approved(acme, bob_page, daphne.url, bob, available=False)
        dialog = open_widget(customer, site.origin, "Acme")
        start_chat(dialog, "Carla", "", QUESTION)
        accept_offer(alice, QUESTION)
        expect(dialog).to_contain_text("You are chatting with Alice (verified by Acme)")
        with bob_page.expect_response(lambda r: r.url.endswith("/presence/") and r.ok):
            bob_page.get_by_role("button", name="Available").click()
        yield Desk(dialog, alice, bob_page, pages)
        for page, problems in pages:
            assert csp_violations(page) == []
            assert problems.errors == []


def ask_bob(alice: Page, button: str, note: str = "") -> None:
    colleague = alice.get_by_label("Colleague")
    colleague.focus()  # the list is fetched again: who can take a chat changes
    colleague.select_option(label="Bob (can take it)")
    alice.get_by_label("Note for them (optional)").fill(note)
    alice.get_by_role("button", name=button, exact=True).click()


def note_for_staff(page: Page, text: str) -> None:
    """Write TEXT as a staff note: Staff note on, send, Staff note off again."""
    mode = page.get_by_role("button", name="Staff note")
    mode.click()
    expect(mode).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Your reply").fill(text)
    page.get_by_role("button", name="Send to staff").click()
    expect(page.locator("#messages li.note").last).to_contain_text(text)
    # The mode stays on for the next note, until it is turned off.
    expect(page.get_by_role("button", name="Send to staff")).to_be_visible()
    mode.click()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()


def test_alice_hands_the_chat_to_bob_who_reads_it_all_and_she_reads_no_more(
    acme: Staff, desk: Desk
) -> None:
    agent_says(desk.alice, "Let me hand you to Bob, who handles addresses.")
    expect(desk.customer).to_contain_text("Let me hand you to Bob")
    # Notes only staff read: one in the chat, one with the transfer.
    note_for_staff(desk.alice, "Carla sounded worried about the courier.")
    ask_bob(desk.alice, "Transfer", note="Address change; already paid.")
    expect(desk.alice.locator("#invitation")).to_have_text("Waiting for Bob to take over…")
    offer = desk.bob.locator("#offers li")
    expect(offer).to_contain_text("Alice hands you a chat (Support)")
    offer.get_by_role("button", name="Accept").click()

    # Bob reads the chat from its start; Alice's dashboard lets it go.
    expect(desk.bob.locator("#messages")).to_contain_text(QUESTION)
    expect(desk.bob.locator("#messages")).to_contain_text("Let me hand you to Bob")
    notes = desk.bob.locator("#messages li.note")
    expect(notes.first).to_have_text(note("Alice", "Carla sounded worried about the courier."))
    expect(notes.last).to_have_text(
        note("Alice", "Transfer note for Bob: Address change; already paid.")
    )
    expect(desk.alice.get_by_text("No active conversations.")).to_be_visible()
    expect(desk.customer).to_contain_text("Alice left the conversation.")
    expect(desk.customer).to_contain_text("You are now talking to Bob.")
    expect(desk.customer.locator("p.state")).to_have_text(
        "You are chatting with Bob (verified by Acme)."
    )
    expect(desk.bob.locator("#messages")).to_contain_text("Alice left the conversation.")

    customer_says(desk.customer, "The new address is 5 Elm Street.")
    expect(desk.bob.locator("#messages")).to_contain_text("5 Elm Street")
    agent_says(desk.bob, "Done: order 1234 goes to 5 Elm Street.")
    expect(desk.customer).to_contain_text("Done: order 1234 goes to 5 Elm Street.")
    # The safety numbers of the customer and of the agent now in the chat agree.
    desk.customer.get_by_text("Your chat key").click()
    safety = desk.customer.locator("code.safety")
    expect(safety).to_have_text(desk.bob.locator("#safety-number").inner_text())

    # The latest epoch holds Carla and Bob, and no key of it was wrapped to Alice's device.
    def stored() -> tuple[dict[str, Any], str, list[str]]:
        events = Event.objects.filter(conversation__tenant=acme.tenant).order_by("seq")
        latest = [e.body for e in events if e.kind == Event.Kind.EPOCH][-1]
        return latest, Device.objects.get(agent=acme.agent).pk, [str(e.body) for e in events]

    latest, alice_device, everything = outside_playwright(stored)
    assert alice_device not in [m["device_id"] for m in latest["record"]["members"]]
    assert alice_device not in [w["recipient"] for w in latest["wraps"]]
    # The customer's page never held a staff note, nor did the server.
    expect(desk.customer).not_to_contain_text("courier")
    expect(desk.customer).not_to_contain_text("already paid")
    for words in ("Elm Street", "delivery address", "Bob, who handles", "courier", "already paid"):
        assert not any(words in body for body in everything)


def test_bob_joins_alices_chat_both_write_and_he_leaves_it_to_her(desk: Desk) -> None:
    ask_bob(desk.alice, "Ask to join")
    offer = desk.bob.locator("#offers li")
    expect(offer).to_contain_text("Alice asks you to join a chat (Support)")
    offer.get_by_role("button", name="Accept").click()
    expect(desk.bob.locator("#messages")).to_contain_text(QUESTION)
    expect(desk.alice.locator("#invitation")).to_have_text("Bob joined.")
    expect(desk.customer).to_contain_text("You are now talking to Alice and Bob.")

    agent_says(desk.bob, "Bob from billing here: the address change is free.")
    expect(desk.customer).to_contain_text("the address change is free")
    expect(desk.alice.locator("#messages")).to_contain_text("the address change is free")
    customer_says(desk.customer, "Thank you both!")
    for page in (desk.alice, desk.bob):
        expect(page.locator("#messages")).to_contain_text("Thank you both!")
    # Bob tells Alice something the customer must not read; the chat goes on for everyone.
    note_for_staff(desk.bob, "The refund needs your approval, Alice.")
    expect(desk.alice.locator("#messages li.note")).to_have_text(
        note("Bob", "The refund needs your approval, Alice.")
    )
    agent_says(desk.alice, "Your refund is approved, Carla.")
    expect(desk.customer).to_contain_text("Your refund is approved")
    expect(desk.customer).not_to_contain_text("needs your approval")

    desk.bob.get_by_role("button", name="Leave conversation").click()
    expect(desk.bob.get_by_text("No active conversations.")).to_be_visible()
    expect(desk.customer).to_contain_text("Bob left the conversation.")
    expect(desk.customer).to_contain_text("You are now talking to Alice.")
    expect(desk.alice.get_by_role("button", name="Leave conversation")).to_be_hidden()
    agent_says(desk.alice, "Anything else, Carla?")
    expect(desk.customer).to_contain_text("Anything else, Carla?")


class Loop:
    """An asyncio loop in a thread of its own, for a Python client beside Playwright's pages."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def test_a_giver_whose_keys_are_at_hand_reads_nothing_written_after_her_leave(
    acme: Staff, daphne: DaphneServer
) -> None:
    """Alice is the Python client here, so that the test holds her device's keys after she
    hands the chat to Bob: with them she opens nothing written after her signed leave."""
    loop = Loop()

    async def client() -> AgentClient:  # made on the loop that will run it
        return AgentClient(daphne.url, "alice", PASSWORD)

    alice = loop.run(client())
    try:
        with pinned_acme(acme, daphne) as (bob, site):
            loop.run(alice.login())
            approve_browser(acme, acme.agent, ORG_KEY)
            loop.run(alice.connect())
            loop.run(alice.set_presence(Agent.Presence.AVAILABLE))
            with chromium() as browser:
                bob_page, bob_problems = open_page(browser)
                customer, problems = open_page(browser)
                log_in_approved(acme, bob_page, daphne.url, bob, available=False)
                dialog = open_widget(customer, site.origin, "Acme")
                start_chat(dialog, "Carla", "", QUESTION)
                chat = loop.run(alice.accept_next_offer(timeout=20))
                expect(dialog).to_contain_text("You are chatting with Alice (verified by Acme)")
                # The button shows the choice at once; the server has it once the request is
                # answered, and only then may Bob be invited.
                with bob_page.expect_response(lambda r: r.url.endswith("/presence/") and r.ok):
                    bob_page.get_by_role("button", name="Available").click()
                loop.run(chat.invite(bob.pk, "transfer"))
                bob_page.locator("#offers li").get_by_role("button", name="Accept").click()
                expect(bob_page.locator("#messages")).to_contain_text(QUESTION)
                loop.run(chat.leave())
                expect(dialog).to_contain_text("You are now talking to Bob.")
                customer_says(dialog, "My new address is 5 Elm Street.")
                expect(bob_page.locator("#messages")).to_contain_text("5 Elm Street")

                # Alice's device fetches the whole log again (a past participant may): it accepts
                # the epoch that left it out, holds no key of it, and reads none of what followed.
                loop.run(chat.sync())
                assert chat.state is not None
                latest = chat.state.latest_epoch
                assert latest is not None and chat.state.key_of(latest) is None
                members = {m.device_id for m in chat.state.members_of(latest)}
                assert alice.keys.device_id not in members
                assert not any("Elm Street" in str(m) for m in chat.messages())
                assert QUESTION in [m.get("question") for m in chat.messages()]
                assert csp_violations(customer) == []
                assert problems.errors == [] and bob_problems.errors == []
    finally:
        loop.run(alice.close())
        loop.stop()
