"""Working faster in Chromium (issue 12, part 5). Alice, in a German-speaking browser in Zurich,
sees Carla's offer with its team, a wait that ticks and the line that the pre-chat stays
encrypted until she accepts; Alt+A accepts it. Every message shows who wrote it and the time
its sender signed, in her locale. "/gr" lists Acme's canned responses (never Globex's), with
a preview; Enter puts one into her draft, which goes only when she sends it. With Carla's and
Dora's chats open, Alt+N goes from one to the other, a plain "n" typed in the reply box does
not, and Alt+C takes the wrap-up path of the Close button."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Locator, Page, expect

from agents.models import CannedResponse
from tests.browser import (
    RECORD_CSP_VIOLATIONS,
    PageProblems,
    carla_then_dora,
    chromium,
    csp_violations,
    customer_says,
    log_in_agent,
    open_page,
    open_widget,
    start_chat,
)
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Is my order 5521 shipped yet?"
GREETING = "Hello, and thank you for waiting: let me look into it right away."
GRACE = "You have a grace period of 14 days to pay."
ZONE = "Europe/Zurich"


def german_page(browser: Browser, app: str) -> tuple[Page, PageProblems]:
    """Return a page of a browser set to German (Germany), in Zurich's time zone, whose person
    chose English for APP's pages (Django's language cookie): its times are written as de-DE
    writes them, its words are English (the pages in German are tests/test_languages*.py's)."""
    context = browser.new_context(locale="de-DE", timezone_id=ZONE)
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": app}])
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    problems = PageProblems()
    return problems.watch(context.new_page()), problems


def expect_signed_time(item: Locator) -> None:
    """Expect ITEM to show its sender's signed time as de-DE writes it in Zurich."""
    time = item.locator("time")
    expect(time).to_have_count(1)
    stamp = time.get_attribute("datetime")
    assert stamp is not None
    at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(ZoneInfo(ZONE))
    assert abs((datetime.now(ZoneInfo(ZONE)) - at).total_seconds()) < 120
    expect(time).to_have_text(at.strftime("%H:%M"))


def test_offer_card_accept_key_names_times_and_a_canned_reply(
    acme: Staff, globex: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    CannedResponse.objects.create(
        tenant=acme.tenant, shortcut="greeting", title="Greeting", text=GREETING
    )
    CannedResponse.objects.create(
        tenant=acme.tenant, team=acme.team, shortcut="grace", title="Grace period", text=GRACE
    )
    CannedResponse.objects.create(
        tenant=globex.tenant, shortcut="great", title="Globex", text="Globex's secret reply."
    )
    with chromium() as browser:
        (alice, alice_problems), (carla_page, carla_problems) = (
            german_page(browser, daphne.url),
            open_page(browser),
        )
        log_in_agent(alice, daphne.url, "alice", PASSWORD)
        dialog = open_widget(carla_page, demo_site, "Acme")
        start_chat(dialog, "Carla", "", QUESTION)

        # The offer card: team, a wait that ticks, and the encrypted pre-chat line.
        card = alice.locator("#offers li")
        expect(card.locator("strong")).to_have_text("A customer is waiting")
        expect(card.locator(".offer-team")).to_have_text("Team: Support")
        expect(card).to_contain_text(
            "Pre-chat details are encrypted: you read them once you accept"
        )
        wait = card.locator(".offer-wait")
        expect(wait).to_have_text(re.compile(r"^Waiting \d+ s · \d+ s left to accept$"))
        before = wait.inner_text()
        expect(wait).not_to_have_text(before)  # it ticks
        expect(alice.locator("#shortcuts-help")).to_contain_text("Alt+A accept the oldest offer")

        # Alt+A accepts it, wherever the focus is.
        alice.keyboard.press("Alt+A")
        messages = alice.locator("#messages")
        expect(messages).to_contain_text(QUESTION)
        expect(card).to_have_count(0)

        # Names and signed times: the customer's pre-chat form and message, then Alice's own.
        prechat = messages.locator("li.prechat")
        expect(prechat.locator(".sender")).to_have_text("Pre-chat form · Carla")
        expect_signed_time(prechat)
        customer_says(dialog, "Order 5521, yes.")
        theirs = messages.locator("li.message.them", has_text="Order 5521, yes.")
        expect(theirs.locator(".sender")).to_have_text("Carla")
        expect_signed_time(theirs)

        # "/gr": Acme's responses that match, the first chosen, each with a preview.
        box = alice.get_by_label("Your reply")
        box.press_sequentially("Hi Carla! /gr")
        listbox = alice.get_by_role("listbox", name="Canned responses")
        expect(listbox).to_be_visible()
        options = listbox.get_by_role("option")
        expect(options).to_have_count(2)
        expect(options.nth(0)).to_contain_text("/grace")
        expect(options.nth(0)).to_contain_text(GRACE)
        expect(options.nth(1)).to_contain_text("/greeting")
        expect(listbox).not_to_contain_text("Globex")
        expect(options.nth(0)).to_have_attribute("aria-selected", "true")
        first_id = options.nth(0).get_attribute("id")
        expect(box).to_have_attribute("aria-activedescendant", first_id or "")
        box.press("ArrowDown")
        expect(options.nth(1)).to_have_attribute("aria-selected", "true")
        expect(box).to_have_attribute(
            "aria-activedescendant", options.nth(1).get_attribute("id") or ""
        )
        box.press("Enter")  # picks; does not send
        expect(listbox).to_be_hidden()
        expect(box).to_have_value(f"Hi Carla! {GREETING}")
        expect(box).to_be_focused()
        alice.wait_for_timeout(500)
        expect(messages.locator("li.message.me")).to_have_count(0)
        expect(dialog).not_to_contain_text(GREETING)

        # Escape closes the list and leaves the draft as typed.
        box.press_sequentially(" /gra")
        expect(options).to_have_count(1)
        box.press("Escape")
        expect(listbox).to_be_hidden()
        expect(box).to_have_value(f"Hi Carla! {GREETING} /gra")
        box.fill(f"Hi Carla! {GREETING}")

        # Sent when Alice sends it: "You", and her signed time.
        box.press("Enter")
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text(GREETING)
        mine = messages.locator("li.message.me", has_text=GREETING)
        expect(mine.locator(".sender")).to_have_text("You")
        expect_signed_time(mine)
        expect(box).to_have_value("")

        for page, problems in ((alice, alice_problems), (carla_page, carla_problems)):
            assert csp_violations(page) == []
            assert problems.errors == []


def test_alt_n_goes_round_the_chats_and_alt_c_takes_the_wrap_up_path(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chromium() as browser:
        pages = [open_page(browser) for _ in range(3)]
        (alice, _), (carla_page, _), (dora_page, _) = pages
        log_in_agent(alice, daphne.url, "alice", PASSWORD)
        carla, _ = carla_then_dora(alice, carla_page, dora_page, demo_site)

        heading = alice.locator("#chat-heading")
        box = alice.get_by_label("Your reply")
        expect(heading).to_have_text("Chat with Dora")
        box.fill("Dora, one moment")
        alice.keyboard.press("Alt+N")
        expect(heading).to_have_text("Chat with Carla")
        expect(box).to_be_focused()
        expect(box).to_have_value("")
        # A plain "n" typed in the reply box is typing, not a shortcut.
        box.press("n")
        expect(box).to_have_value("n")
        expect(heading).to_have_text("Chat with Carla")
        box.press("Alt+N")
        expect(heading).to_have_text("Chat with Dora")
        expect(box).to_have_value("Dora, one moment")
        box.press("Alt+N")
        expect(heading).to_have_text("Chat with Carla")

        # Alt+C goes to the wrap-up; closing takes a wrap-up and a second Alt+C.
        alice.keyboard.press("Alt+C")
        wrap_up = alice.get_by_label("Wrap-up")
        expect(wrap_up).to_be_focused()
        expect(alice.locator("#shortcut-status")).to_have_text(
            "Choose a wrap-up, then press Alt+C again or Close conversation."
        )
        expect(alice.locator("#ended")).to_be_hidden()
        wrap_up.select_option(index=1)
        alice.keyboard.press("Alt+C")
        expect(alice.locator("#messages")).to_contain_text("You ended the conversation.")
        expect(carla).to_contain_text("Alice ended the conversation.")
        expect(
            alice.locator("#conversations").get_by_role("button", name="Dora · Support")
        ).to_be_visible()
        expect(
            alice.locator("#conversations").get_by_role("button", name="Carla · Support")
        ).to_have_count(0)

        for page, problems in pages:
            assert csp_violations(page) == []
            assert problems.errors == []
