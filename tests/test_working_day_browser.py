"""A working day at Acme in Chromium (issue 12, "Done when"): Alice, a new agent whose browser Ada
approved, and Ada, a new tenant admin, get through a scripted day as the code that ships runs it,
with no raw error code on any page, no misdirected reply and no lost conversation.

Acme has an organisation key and the demo page's tag pins it (as in
tests/test_offline_messages_browser.py). In the morning Carla and Dora chat with Alice at once:
a draft for Dora stays in Dora's chat while the reply goes to Carla only. Finn's offer times out
while Alice is busy: she is set Away, and once she is back Finn's chat comes to her. She closes
Carla's chat with a wrap-up and finds it in her history. In the evening Support is closed and Erin
leaves a message; the next morning Alice picks it up and answers, and Erin reads the answer when
she comes back. At the end of the day Ada reads the report, whose figures are the day's.

Screenshots of the key moments go to pytest's tmp_path, or, with SEALDESK_SCREENSHOTS=1, to
docs/screenshots/ for the README's "A working day":

    SEALDESK_SCREENSHOTS=1 timeout 600 .venv/bin/python -m pytest tests/test_working_day_browser.py
"""

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models import F
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect

from agents.models import Team, Tenant
from chat.models import Conversation, Offer
from sealdesk_client.frames import ERRORS
from tests.browser import (
    RECORD_CSP_VIOLATIONS,
    PageProblems,
    accept_offer,
    agent_says,
    chromium,
    csp_violations,
    log_in_agent,
    open_widget,
    outside_playwright,
    start_chat,
)
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer
from tests.test_offline_messages_browser import closed_today
from tests.test_reports_browser import DRAWN_PIXELS, charts_drawn, figure, row_of
from tests.test_transfer_browser import log_in_approved, pinned_acme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORT: ViewportSize = {"width": 1280, "height": 800}

# Every error code the server may send that reads as a code (a word with an underscore): none of
# them may show on a page; each is turned into a sentence first.
RAW_CODE = re.compile(r"\b(" + "|".join(sorted(c for c in ERRORS if "_" in c)) + r")\b")

# What a person sees on the page: the document's text and that of open shadow roots (the widget),
# leaving out what is not rendered.
VISIBLE_TEXT = """() => {
  const texts = [document.body ? document.body.innerText : ""];
  for (const host of document.querySelectorAll("*")) {
    if (!host.shadowRoot) continue;
    for (const child of host.shadowRoot.children) {
      if (["STYLE", "SCRIPT", "TEMPLATE"].includes(child.tagName)) continue;
      if (child.checkVisibility && !child.checkVisibility()) continue;
      texts.push(child.innerText ?? "");
    }
  }
  return texts.join("\\n");
}"""

CARLA = "Where is parcel 7781?"
DORA = "Can I change the address of order 1234?"
FINN = "Do you ship to Norway?"
ERIN = "Please call me back about my invoice tomorrow."
TO_CARLA = "Parcel 7781 left our depot this morning."
DRAFT_FOR_DORA = "Dora, the new address will be"
TO_FINN = "Yes, we ship to Norway in three days."
TO_ERIN = "Good morning Erin, I will call you at nine."


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    # Two loaded cores run the server, the demo page and five browser pages: wait longer than
    # Playwright's 5 s before failing a check.
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


class Day:
    """The day's pages (one browser profile each) and what each recorded."""

    def __init__(self, browser: Browser, shots: Path) -> None:
        self.browser = browser
        self.shots = shots
        self.pages: list[tuple[Page, PageProblems]] = []

    def page(self) -> Page:
        context = self.browser.new_context(viewport=VIEWPORT)
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        problems = PageProblems()
        page = problems.watch(context.new_page())
        self.pages.append((page, problems))
        return page

    def check(self) -> None:
        """No page shows a raw error code, broke the CSP or logged an error, so far."""
        for page, problems in self.pages:
            if page.url.startswith("http"):
                text: str = page.evaluate(VISIBLE_TEXT)
                assert not RAW_CODE.findall(text), (page.url, RAW_CODE.findall(text))
                assert csp_violations(page) == [], page.url
            assert problems.errors == [], problems.errors

    def shoot(self, page: Page, name: str) -> None:
        self.check()
        page.screenshot(path=self.shots / f"{name}.png")


def select_chat(agent: Page, name: str) -> None:
    agent.locator("#conversations").get_by_role("button", name=f"{name} · Support").click()
    expect(agent.locator("#chat-heading")).to_have_text(f"Chat with {name}")


def close_chat(agent: Page, disposition: str) -> None:
    agent.get_by_label("Wrap-up").select_option(label=disposition)
    agent.get_by_role("button", name="Close conversation").click()
    expect(agent.locator("#ended")).to_be_visible()


def log(dialog: Locator) -> Locator:
    return dialog.get_by_role("log", name="Messages")


def set_offer_timeout(staff: Staff, seconds: int) -> None:
    outside_playwright(
        lambda: Tenant.objects.filter(pk=staff.tenant.pk).update(offer_timeout_seconds=seconds)
    )


def test_alice_and_ada_get_through_a_working_day(
    acme: Staff, daphne: DaphneServer, screenshots: Path
) -> None:
    with pinned_acme(acme, daphne) as (_, site), chromium() as browser:
        day = Day(browser, screenshots)
        alice = day.page()
        log_in_approved(acme, alice, daphne.url, acme.agent, available=True)
        chats = alice.locator("#conversations")
        box = alice.get_by_label("Your reply")

        # 1. Morning: Carla and Dora start chats; Alice takes both.
        carla = open_widget(day.page(), site.origin, "Acme")
        start_chat(carla, "Carla", "", CARLA)
        accept_offer(alice, CARLA)
        dora = open_widget(day.page(), site.origin, "Acme")
        start_chat(dora, "Dora", "", DORA)
        accept_offer(alice, DORA)
        expect(carla.locator("p.state")).to_contain_text("You are chatting with Alice")
        expect(dora.locator("p.state")).to_contain_text("You are chatting with Alice")
        expect(chats.get_by_role("button")).to_have_count(2)

        # She starts a reply to Dora, switches to Carla and answers her: the reply reaches Carla
        # only, and the draft waits in Dora's chat.
        expect(alice.locator("#chat-heading")).to_have_text("Chat with Dora")
        box.fill(DRAFT_FOR_DORA)
        select_chat(alice, "Carla")
        expect(box).to_have_value("")
        agent_says(alice, TO_CARLA)
        expect(log(carla)).to_contain_text(TO_CARLA)
        expect(alice.locator("#messages")).to_contain_text(TO_CARLA)
        select_chat(alice, "Dora")
        expect(box).to_have_value(DRAFT_FOR_DORA)
        expect(alice.locator("#messages")).not_to_contain_text(TO_CARLA)
        expect(log(dora)).not_to_contain_text(TO_CARLA)
        expect(log(dora)).not_to_contain_text(DRAFT_FOR_DORA)
        day.shoot(alice, "1-two-chats")

        # 2. Finn's offer times out while Alice is busy (Acme's timeout made 10 s for the day's
        # script, long enough for a loaded machine to show the offer first): she is set Away, as
        # Acme's setting says, and Finn waits in the queue.
        set_offer_timeout(acme, 10)
        finn_page = day.page()
        finn = open_widget(finn_page, site.origin, "Acme")
        start_chat(finn, "Finn", "", FINN)
        expect(alice.locator("#offers li")).to_have_count(1)
        expect(alice.locator("#offers li")).to_have_count(0, timeout=60_000)
        expect(alice.get_by_role("button", name="Away")).to_have_attribute(
            "aria-pressed", "true", timeout=30_000
        )
        expect(alice.get_by_role("button", name="Available")).to_have_attribute(
            "aria-pressed", "false"
        )
        expect(alice.locator("#offers-empty")).to_have_text("No chats are waiting for you.")
        # The page says why she is Away, and how to come back.
        expect(alice.get_by_role("alert")).to_contain_text(
            "A chat offer timed out before you answered it, so your status is now Away."
        )
        expect(finn.locator("p.state")).to_contain_text("in the queue")
        day.shoot(alice, "2-missed-offer-away")

        # Back at her desk, Alice makes herself available. Finn's chat is not offered to her
        # again within a minute of letting it pass: that minute is over (moved back here).
        set_offer_timeout(acme, 30)

        def a_minute_later() -> None:
            Offer.objects.filter(
                conversation__tenant=acme.tenant, state=Offer.State.EXPIRED
            ).update(decided_at=F("decided_at") - timedelta(seconds=61))

        outside_playwright(a_minute_later)
        alice.get_by_role("button", name="Available").click()
        expect(alice.get_by_role("button", name="Available")).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(alice.locator("#device-error")).to_be_hidden()
        accept_offer(alice, FINN)
        agent_says(alice, TO_FINN)
        expect(log(finn)).to_contain_text(TO_FINN)
        expect(finn.locator("p.state")).to_contain_text("You are chatting with Alice")
        for other in (carla, dora):
            expect(log(other)).not_to_contain_text(TO_FINN)

        # 3. Carla's question is answered: Alice closes her chat with a wrap-up. It leaves the
        # active list for the history.
        select_chat(alice, "Carla")
        close_chat(alice, "Resolved")
        expect(carla.locator("p.state")).to_have_text("This conversation has ended.")
        expect(chats.get_by_role("button", name="Carla · Support")).to_have_count(0)
        expect(chats.get_by_role("button")).to_have_count(2)
        row = alice.locator("#history-list li").filter(has_text="Carla · Support")
        expect(row).to_contain_text("Resolved")
        day.check()

        # 4. Evening: Support is closed (today is a holiday in the script). Erin leaves a
        # message on the widget and leaves the page.
        outside_playwright(closed_today, acme.team)
        erin_page = day.page()
        erin = open_widget(erin_page, site.origin, "Acme")
        expect(erin.locator("p.hours")).to_contain_text("Support is closed now.")
        expect(erin.locator("p.hours")).to_contain_text(
            "Leave a message and we will answer it here."
        )
        erin.get_by_label("Name").fill("Erin")
        erin.get_by_label("Your message").fill(ERIN)
        day.shoot(erin_page, "3-closed-leave-a-message")
        erin.get_by_role("button", name="Leave a message").click()
        expect(log(erin)).to_contain_text(ERIN)
        expect(erin.locator("p.state")).to_contain_text("Your message is with Support.")
        expect(erin.locator(".pending")).to_have_count(0)
        erin_page.goto("about:blank")

        # The next morning Support is open again. Alice finds the message among her offline
        # messages, picks it up and answers it.
        outside_playwright(
            lambda: Team.objects.filter(pk=acme.team.pk).update(hours="", holidays="")
        )
        alice.reload()
        expect(alice.locator("#connection")).to_have_text("Connected")
        message = alice.locator("#offline-list li")
        expect(message).to_contain_text("Support")
        expect(message).to_contain_text("Left today at")
        # Yesterday's chats still in hand, readable after the reload.
        expect(chats.get_by_role("button")).to_have_count(2)
        message.get_by_role("button", name="Pick up").click()
        expect(alice.locator("#messages")).to_contain_text(ERIN)
        expect(alice.locator("#offline-empty")).to_be_visible()
        agent_says(alice, TO_ERIN)
        expect(alice.locator("#messages")).to_contain_text(TO_ERIN)
        expect(chats.get_by_role("button")).to_have_count(3)
        day.shoot(alice, "4-message-picked-up-and-answered")

        # Erin comes back to the page, whose chat her browser kept: the answer waits for her.
        erin_page.goto(site.origin)
        erin = erin_page.get_by_role("dialog", name="Chat with Acme")
        expect(log(erin)).to_contain_text(TO_ERIN)
        expect(erin.locator("p.state")).to_have_text(
            "You are chatting with Alice (verified by Acme)."
        )
        for other in (carla, dora, finn):
            expect(log(other)).not_to_contain_text(TO_ERIN)
        day.shoot(erin_page, "5-answer-read-next-morning")
        close_chat(alice, "Resolved")
        rating = erin.get_by_role("group", name="How was this chat?")
        expect(rating).to_be_visible()
        rating.get_by_role("button", name="5", exact=True).click()
        expect(rating.get_by_role("status")).to_have_text(
            "Thank you: you rated this chat 5 out of 5."
        )

        # Nothing was lost: every chat of the day is with Alice or closed by her.
        states = outside_playwright(
            lambda: sorted(
                Conversation.objects.filter(tenant=acme.tenant).values_list("state", flat=True)
            )
        )
        assert states == ["active", "active", "closed", "closed"]

        # 5. End of the day: Ada reads the report. Four chats, all taken; Alice let one offer
        # pass (Finn's, then taken on its second offer); two closed as resolved; Erin's rating.
        # A message picked up is taken without an offer: Alice's offers are the three routed
        # chats' four, and she took all four chats, Erin's (rated 5) included.
        ada = day.page()
        log_in_agent(ada, daphne.url, "ada", PASSWORD, available=False)
        ada.get_by_role("link", name="Reports").click()
        expect(ada.get_by_role("heading", name="Reports")).to_be_visible()
        assert figure(ada, "conversations") == "4"
        assert figure(ada, "taken") == "4"
        assert figure(ada, "unanswered") == "0"
        assert figure(ada, "satisfaction") == "5.0 from 1 rating"
        alice_row = row_of(ada, "agents-table", "Alice")
        # Offers, taken, missed, declined, satisfaction.
        assert alice_row == ["Alice", "4", "4", "1", "0", "5.0"]
        assert row_of(ada, "dispositions-table", "Resolved") == ["Resolved", "2"]
        charts_drawn(ada)
        for chart in ("chart-teams", "chart-agents", "chart-dispositions"):
            assert ada.evaluate(DRAWN_PIXELS, chart) > 500, chart
        day.shoot(ada, "6-report")
        ada.locator("#agents-heading").evaluate("(heading) => heading.scrollIntoView()")
        expect(ada.locator("#agents-table")).to_be_in_viewport()
        day.shoot(ada, "7-report-agents-and-wrap-ups")
        day.check()
