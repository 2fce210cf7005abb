"""Messages left when no one can answer, in Chromium: Carla on the demo page (whose tag pins Acme's
organisation key) finds Support closed for the day and leaves a message; the next morning Alice
and Bob, approved, see it in their offline messages; Alice picks it up and answers; Carla comes
back to the page and reads the answer. Her browser encrypted the message to Alice's and Bob's
browsers only, Alice's browser then left Bob's out, and the server stored none of the words.
Another customer, Dora, is told her estimated wait, waits longer than Acme allows, leaves a
message instead and asks to be told by e-mail: one mail says that Acme's reply is waiting."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from agents.models import Agent, Device, Team, Tenant
from chat.models import Conversation, Event
from tests.browser import (
    PageProblems,
    agent_says,
    chromium,
    csp_violations,
    open_page,
    open_widget,
    outside_playwright,
)
from tests.factories import Staff, start
from tests.live import DaphneServer, DemoSite
from tests.test_transfer_browser import log_in_approved, pinned_acme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MESSAGE = "Please call me back about order 1234 tomorrow."
ANSWER = "Good morning Carla, I am calling you at nine."


@dataclass
class Floor:
    alice: Page
    bob: Page
    customer: Page
    site: DemoSite
    pages: list[tuple[Page, PageProblems]]


def closed_today(team: Team) -> None:
    """Support works every day around the clock, except today, a holiday."""
    today = datetime.now(UTC).date().isoformat()
    Team.objects.filter(pk=team.pk).update(hours="mon-sun 00:00-24:00", holidays=f"{today} Closed")


@pytest.fixture
def floor(acme: Staff, daphne: DaphneServer) -> Iterator[Floor]:
    """Acme with an organisation key; Alice and Bob logged in with approved browsers, not yet
    available; Carla's page open."""
    with pinned_acme(acme, daphne) as (bob, site), chromium() as browser:
        pages = [open_page(browser) for _ in range(3)]
        (alice, _), (bob_page, _), (customer, _) = pages
        log_in_approved(acme, alice, daphne.url, acme.agent, available=False)
        log_in_approved(acme, bob_page, daphne.url, bob, available=False)
        yield Floor(alice, bob_page, customer, site, pages)
        for page, problems in pages:
            assert csp_violations(page) == []
            assert problems.errors == []


def leave_message(dialog: Locator, name: str, text: str) -> None:
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Your message").fill(text)
    dialog.get_by_role("button", name="Leave a message").click()
    expect(dialog.get_by_role("log", name="Messages")).to_contain_text(text)


def test_carla_leaves_a_message_at_night_and_alice_answers_it_in_the_morning(
    acme: Staff, floor: Floor
) -> None:
    outside_playwright(closed_today, acme.team)
    dialog = open_widget(floor.customer, floor.site.origin, "Acme")
    expect(dialog.locator("p.hours")).to_contain_text("Support is closed now. It opens")
    expect(dialog.locator("p.hours")).to_contain_text("Leave a message and we will answer it here.")
    leave_message(dialog, "Carla", MESSAGE)
    expect(dialog.locator("p.state")).to_have_text(
        "Your message is with Support. An agent will answer it here: come back to this page in "
        "this browser to read the answer."
    )
    # The message is sent (acknowledged): nothing waits in the widget's outbox. The team's
    # browsers it is encrypted to are listed as such, not as people who joined the chat.
    expect(dialog.locator(".pending")).to_have_count(0)
    expect(dialog.get_by_text("joined the chat.")).to_have_count(0)
    floor.customer.goto("about:blank")  # Carla leaves for the night

    # The next morning: Support is open again; Alice and Bob see the message.
    outside_playwright(lambda: Team.objects.filter(pk=acme.team.pk).update(hours="", holidays=""))
    for agent in (floor.alice, floor.bob):
        agent.reload()
        row = agent.locator("#offline-list li")
        expect(row).to_contain_text("Support")
        expect(row).to_contain_text("Left today at")
    floor.alice.locator("#offline-list li").get_by_role("button", name="Pick up").click()
    expect(floor.alice.locator("#messages")).to_contain_text(MESSAGE)
    expect(floor.alice.locator("#offline-empty")).to_be_visible()
    expect(floor.bob.locator("#offline-empty")).to_be_visible()
    agent_says(floor.alice, ANSWER)
    expect(floor.alice.locator("#messages")).to_contain_text(ANSWER)

    # Carla comes back to the page, whose chat she left open: the answer waits for her, from
    # Alice, verified by Acme's key.
    floor.customer.goto(floor.site.origin)
    dialog = floor.customer.get_by_role("dialog", name="Chat with Acme")
    expect(dialog.get_by_role("log", name="Messages")).to_contain_text(ANSWER)
    expect(dialog.locator("p.state")).to_have_text(
        "You are chatting with Alice (verified by Acme)."
    )

    def stored() -> tuple[list[list[str]], list[str], dict[str, str]]:
        events = Event.objects.filter(conversation__tenant=acme.tenant).order_by("seq")
        epochs = [
            [m["device_id"] for m in e.body["record"]["members"]]
            for e in events
            if e.kind == Event.Kind.EPOCH
        ]
        devices = dict(
            Device.objects.filter(tenant=acme.tenant, agent__isnull=False).values_list(
                "agent__display_name", "pk"
            )
        )
        return epochs, [str(e.body) for e in events], devices

    epochs, everything, devices = outside_playwright(stored)
    # The message epoch held both approved browsers; after the pick-up, Bob's is left out.
    assert devices["Alice"] in epochs[1] and devices["Bob"] in epochs[1]
    assert devices["Alice"] in epochs[-1] and devices["Bob"] not in epochs[-1]
    for words in ("order 1234", "calling you at nine"):
        assert not any(words in body for body in everything)


def recently_taken_and_bob_available(acme: Staff) -> None:
    """A chat of Support's waited three minutes five minutes ago; Bob is available now (set as
    his dashboard's menu would, without the router's reaction, which tests/test_routing.py
    plays): the waiting customer's estimate is three minutes."""
    taken = timezone.now() - timedelta(minutes=5)
    conversation = start(acme)
    Conversation.objects.filter(pk=conversation.pk).update(
        state=Conversation.State.CLOSED,
        created_at=taken - timedelta(minutes=3),
        accepted_at=taken,
        closed_at=taken,
    )
    Agent.objects.filter(tenant=acme.tenant, user__username="bob").update(
        presence=Agent.Presence.AVAILABLE
    )


def mail_in(folder: Path, timeout: float = 10) -> list[str]:
    """Return the mails Daphne wrote into FOLDER (the filemail backend tests/conftest.py sets),
    once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folder.is_dir() and (files := sorted(folder.iterdir())):
            return [file.read_text() for file in files]
        time.sleep(0.05)
    return []


def test_dora_waits_longer_than_acme_allows_and_leaves_a_message_instead(
    acme: Staff, floor: Floor, tmp_path: Path
) -> None:
    outside_playwright(
        lambda: Tenant.objects.filter(pk=acme.tenant.pk).update(message_after_minutes=1)
    )
    outside_playwright(recently_taken_and_bob_available, acme)
    # The widget counts the wait on the page's clock, from when the server says the chat began:
    # the page's clock runs 52 seconds ahead, so that the minute passes in eight.
    floor.customer.clock.install(time=datetime.now(UTC) + timedelta(seconds=52))
    dialog = open_widget(floor.customer, floor.site.origin, "Acme")
    dialog.get_by_label("Name").fill("Dora")
    dialog.get_by_label("Your question").fill("Is the shop open on Sunday?")
    dialog.get_by_role("button", name="Start chat").click()
    expect(dialog.locator("p.state")).to_have_text(
        "You are number 1 in the queue. Estimated wait: about 3 minutes."
    )
    leave = dialog.get_by_role("button", name="Leave a message instead")
    expect(leave).to_be_hidden()
    expect(leave).to_be_visible(timeout=20_000)
    leave.click()
    expect(dialog.locator("p.state")).to_contain_text("Your message is with Support.")
    # Dora asks to be told by e-mail; a mistyped address is refused plainly and stays to fix.
    dialog.get_by_label("Tell me by e-mail when the answer is here").check()
    address = dialog.get_by_label("Your e-mail address")
    address.fill("dora at example.com")
    dialog.get_by_role("button", name="Tell me by e-mail").click()
    notice = dialog.locator(".notice-status")
    expect(notice).to_have_text(
        "That is not an e-mail address. Check it, for example name@example.com."
    )
    address.fill("dora@example.com")
    dialog.get_by_role("button", name="Tell me by e-mail").click()
    expect(notice).to_contain_text("We will write to you once, when the answer is here.")
    expect(dialog.locator("p.state")).to_contain_text("Your message is with Support.")
    expect(floor.alice.locator("#offline-list li")).to_contain_text("Support")
    floor.alice.locator("#offline-list li").get_by_role("button", name="Pick up").click()
    expect(floor.alice.locator("#messages")).to_contain_text("Is the shop open on Sunday?")
    agent_says(floor.alice, "Yes, from ten to four.")
    # One mail, written by the server's process into the test's folder: a reply from Acme waits;
    # nothing of the conversation, nor Dora's name, is in it; the address is erased.
    [notice_mail] = mail_in(tmp_path / "mail")
    assert "To: dora@example.com" in notice_mail and "Acme" in notice_mail
    for private in ("Sunday", "ten to four", "Dora"):
        assert private not in notice_mail
    dora = outside_playwright(
        lambda: Conversation.objects.filter(tenant=acme.tenant).latest("created_at")
    )
    assert dora.notify_email == ""
    state = dora.state
    assert state == Conversation.State.ACTIVE
    assert (
        outside_playwright(lambda: Agent.objects.get(pk=acme.agent.pk).participations.count()) == 1
    )
