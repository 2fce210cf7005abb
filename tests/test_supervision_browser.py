"""A supervisor at work, in Chromium with three browsers: Carla on the demo page (whose tag pins
Acme's organisation key) reads Acme's supervision policy before she starts; Alice takes her chat;
Sam, Acme's supervisor, sees it on his board, opens it, reads it live, whispers to Alice, and
barges in. Every device is added by a signed epoch and listed on Carla's screen; her page never
holds a whisper, and the server stores none of the words."""

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect

from agents.models import Tenant
from chat.models import Event
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

QUESTION = "I was charged twice for order 1234."
DISCLOSURE = (
    "Supervisors at Acme may read this chat, from its start, advise the agent privately, and "
    "join in. You will see each one who opens it."
)


@dataclass
class Floor:
    customer: Locator  # the widget's dialog
    alice: Page
    sam: Page
    pages: list[tuple[Page, PageProblems]]


def set_policy(staff: Staff, policy: str) -> None:
    staff.tenant.supervision = policy
    outside_playwright(staff.tenant.save, update_fields=["supervision"])


@pytest.fixture
def floor(acme: Staff, daphne: DaphneServer) -> Iterator[Floor]:
    """Acme with an organisation key and the policy that lets supervisors barge in; Alice has
    taken Carla's chat; Sam is logged in on an approved browser."""
    set_policy(acme, Tenant.Supervision.BARGE)
    with pinned_acme(acme, daphne) as (_, site), chromium() as browser:
        pages = [open_page(browser) for _ in range(3)]
        (alice, _), (sam, _), (customer, _) = pages
        log_in_approved(acme, alice, daphne.url, acme.agent, available=True)
        log_in_approved(acme, sam, daphne.url, acme.supervisor, available=False)
        dialog = open_widget(customer, site.origin, "Acme")
        # Told before the chat starts (disclosure is the law in many places).
        expect(dialog.locator(".disclosure")).to_have_text(DISCLOSURE)
        start_chat(dialog, "Carla", "", QUESTION)
        accept_offer(alice, QUESTION)
        expect(dialog).to_contain_text("You are chatting with Alice (verified by Acme)")
        yield Floor(dialog, alice, sam, pages)
        for page, problems in pages:
            assert csp_violations(page) == []
            assert problems.errors == []


def test_sam_reads_alices_chat_live_whispers_to_her_and_barges_in(
    acme: Staff, floor: Floor
) -> None:
    board = floor.sam.locator(".board")
    expect(board).to_contain_text("You may open your teams' chats, whisper to their agents")
    expect(board.locator("#board-queues")).to_contain_text("Support: 0 waiting, 1 in progress")
    chat = board.locator("#board-chats li")
    expect(chat).to_contain_text("Support · with Alice")
    chat.get_by_role("button", name="Monitor").click()

    # Sam reads the chat from its start; Carla's screen names him, from his certificate.
    expect(floor.sam.locator("#messages")).to_contain_text(QUESTION)
    expect(floor.sam.locator("#monitoring")).to_be_visible()
    expect(floor.customer).to_contain_text("Sam, a supervisor, can now read this conversation.")
    expect(floor.customer.locator("p.state")).to_have_text(
        "You are chatting with Alice (verified by Acme). "
        "Sam (verified by Acme), a supervisor, can read this conversation."
    )
    expect(board.locator("#board-chats li")).to_contain_text("read by Sam")

    # Live: what Alice and Carla write reaches him.
    agent_says(floor.alice, "I see two payments; let me check.")
    customer_says(floor.customer, "Thank you.")
    expect(floor.sam.locator("#messages")).to_contain_text("I see two payments")
    expect(floor.sam.locator("#messages")).to_contain_text("Thank you.")

    # A whisper: Alice reads it, Carla's page never holds it.
    floor.sam.get_by_label("Your reply").fill("Refund the second payment, Alice.")
    floor.sam.get_by_role("button", name="Whisper to the agents").click()
    # Named from his certificate, with the time he signed (tests/test_working_faster_browser.py).
    expect(floor.alice.locator("#messages li.note")).to_have_text(
        re.compile(r"^Staff note · Sam · \d+:\d\d( [AP]M)?: Refund the second payment, Alice\.$")
    )
    agent_says(floor.alice, "The second payment is refunded.")
    expect(floor.customer).to_contain_text("The second payment is refunded.")
    expect(floor.customer).not_to_contain_text("Refund the second payment")

    # Barging in: from now on he writes to Carla too.
    floor.sam.get_by_role("button", name="Barge in").click()
    expect(floor.sam.locator("#monitoring")).to_be_hidden()
    expect(floor.customer).to_contain_text("Sam, a supervisor, joined the conversation.")
    agent_says(floor.sam, "Sam here, Alice's supervisor: sorry for the trouble.")
    expect(floor.customer).to_contain_text("sorry for the trouble")
    expect(floor.alice.locator("#messages")).to_contain_text("sorry for the trouble")

    def stored() -> list[str]:
        return [str(e.body) for e in Event.objects.filter(conversation__tenant=acme.tenant)]

    everything = outside_playwright(stored)
    for words in ("Refund the second", "two payments", "sorry for the trouble", "charged twice"):
        assert not any(words in body for body in everything)


def test_with_monitoring_only_sam_reads_but_neither_whispers_nor_barges(
    acme: Staff, floor: Floor
) -> None:
    set_policy(acme, Tenant.Supervision.MONITOR)
    floor.sam.reload()
    expect(floor.sam.locator("#board-policy")).to_have_text(
        "You may open your teams' chats to read them."
    )
    floor.sam.locator("#board-chats li").get_by_role("button", name="Monitor").click()
    expect(floor.sam.locator("#messages")).to_contain_text(QUESTION)
    expect(floor.sam.get_by_label("Your reply")).to_be_hidden()
    expect(floor.sam.get_by_role("button", name="Barge in")).to_be_hidden()
    expect(floor.customer).to_contain_text("Sam, a supervisor, can now read this conversation.")
