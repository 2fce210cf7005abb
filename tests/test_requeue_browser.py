"""A chat sent back to a queue, in Chromium with three browsers: Carla on the demo page (whose tag
pins Acme's organisation key), Alice and Bob on their dashboards. Alice sends the chat to the
Billing queue, where Bob takes it (a cold transfer); or she parks it and logs out, Carla comes back
later, and Bob takes it. Each time Carla's browser signs the epochs that leave Alice out and let
Bob in, Bob reads the whole chat, and the server stores none of the words."""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect

from agents.models import Agent, Device, Team
from chat.models import Conversation, Event
from tests.browser import (
    PageProblems,
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
from tests.factories import Staff
from tests.live import DaphneServer
from tests.test_transfer_browser import log_in_approved, pinned_acme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "My parcel never arrived: order 1234."


@dataclass
class Desk:
    customer: Locator  # the widget's dialog
    alice: Page
    bob: Page
    pages: list[tuple[Page, PageProblems]]


def move_to_billing(agent: Agent) -> None:
    billing, _ = Team.objects.get_or_create(tenant=agent.tenant, name="Billing")
    agent.teams.set([billing])


@pytest.fixture
def desk(acme: Staff, daphne: DaphneServer) -> Iterator[Desk]:
    """Carla's chat with Alice, on a demo page that pins Acme's organisation key; Bob, logged in
    and approved, not yet available."""
    with pinned_acme(acme, daphne) as (bob, site), chromium() as browser:
        pages = [open_page(browser) for _ in range(3)]
        (alice, _), (bob_page, _), (customer, _) = pages
        log_in_approved(acme, alice, daphne.url, acme.agent, available=True)
        log_in_approved(acme, bob_page, daphne.url, bob, available=False)
        dialog = open_widget(customer, site.origin, "Acme")
        start_chat(dialog, "Carla", "", QUESTION)
        accept_offer(alice, QUESTION)
        expect(dialog).to_contain_text("You are chatting with Alice (verified by Acme)")
        agent_says(alice, "Let me look into order 1234.")
        expect(dialog).to_contain_text("Let me look into order 1234.")
        yield Desk(dialog, alice, bob_page, pages)
        for page, problems in pages:
            assert csp_violations(page) == []
            assert problems.errors == []


def bob_takes_it(desk: Desk, *lines: str) -> None:
    """Bob becomes available, accepts the chat and reads it all; Carla is told."""
    desk.bob.get_by_role("button", name="Available").click()
    accept_offer(desk.bob, QUESTION)
    for line in lines:
        expect(desk.bob.locator("#messages")).to_contain_text(line)
    expect(desk.customer).to_contain_text("You are now talking to Bob.")
    expect(desk.customer.locator("p.state")).to_have_text(
        "You are chatting with Bob (verified by Acme)."
    )
    agent_says(desk.bob, "Bob here: a new parcel is on its way.")
    expect(desk.customer).to_contain_text("a new parcel is on its way")


def assert_alice_left_out_and_no_words_stored(acme: Staff) -> None:
    def stored() -> tuple[list[str], list[str], str]:
        events = Event.objects.filter(conversation__tenant=acme.tenant).order_by("seq")
        latest = [e.body for e in events if e.kind == Event.Kind.EPOCH][-1]
        alice = Device.objects.get(agent=acme.agent).pk
        members = [m["device_id"] for m in latest["record"]["members"]]
        return members, [str(e.body) for e in events], alice

    members, everything, alice = outside_playwright(stored)
    assert alice not in members
    for words in ("parcel never arrived", "order 1234", "new parcel", "still waiting"):
        assert not any(words in body for body in everything)


def test_alice_sends_the_chat_to_the_billing_queue_and_bob_takes_it(
    acme: Staff, desk: Desk
) -> None:
    outside_playwright(lambda: move_to_billing(Agent.objects.get(user__username="bob")))
    desk.alice.reload()  # the queue list comes with the page
    expect(desk.alice.locator("#messages")).to_contain_text(QUESTION)
    desk.alice.get_by_label("Queue").select_option(label="Billing")
    desk.alice.get_by_role("button", name="Transfer to queue").click()
    expect(desk.alice.get_by_text("No active conversations.")).to_be_visible()
    expect(desk.customer).to_contain_text("The chat was sent to the Billing queue.")
    expect(desk.customer.locator("p.state")).to_contain_text("in the queue")
    bob_takes_it(desk, QUESTION, "Let me look into order 1234.")
    team = outside_playwright(lambda: Conversation.objects.get(tenant=acme.tenant).team.name)
    assert team == "Billing"
    assert_alice_left_out_and_no_words_stored(acme)


def test_alice_parks_the_chat_and_logs_out_carla_comes_back_and_bob_takes_it(
    acme: Staff, desk: Desk
) -> None:
    desk.alice.get_by_role("button", name="Park").click()
    expect(desk.alice.get_by_text("No active conversations.")).to_be_visible()
    expect(desk.customer.locator("p.state")).to_have_text(
        "This chat is on hold. Write when you are ready, and an agent will pick it up."
    )
    # Alice is done for the day.
    desk.alice.get_by_role("button", name="Offline").click()
    desk.alice.get_by_role("button", name="Log out").click()
    expect(desk.alice.get_by_label("Username")).to_be_visible()

    customer_says(desk.customer, "I am still waiting for it.")
    expect(desk.customer.locator("p.state")).to_contain_text("in the queue")
    bob_takes_it(desk, QUESTION, "Let me look into order 1234.", "I am still waiting for it.")
    assert_alice_left_out_and_no_words_stored(acme)
