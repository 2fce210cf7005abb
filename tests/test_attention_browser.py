"""Attention in the dashboard (issue 12, part 6), in Chromium: Alice answers Carla and Dora and
reads Dora's chat; Carla writes, and the tab's title says (1), the favicon takes a badge and a
chime plays; opening Carla's chat clears both. Muted (remembered across a reload), a message
plays no chime but still counts. With the tab hidden, a message in the open chat counts too and
shows a desktop notification that names Carla and never carries her words.

The chime is observed as the oscillators the page asks its AudioContext for, and notifications
as the ones the page constructs: both recorded by an init script, around the browser's own."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import (
    RECORD_CSP_VIOLATIONS,
    PageProblems,
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

RECORD_ATTENTION = """
window.__chimes = 0;
const createOscillator = BaseAudioContext.prototype.createOscillator;
BaseAudioContext.prototype.createOscillator = function () {
  window.__chimes += 1;
  return createOscillator.call(this);
};
window.__notifications = [];
const Shown = window.Notification;
window.Notification = class extends Shown {
  constructor(title, options) {
    super(title, options);
    window.__notifications.push({ title, body: options?.body ?? "", tag: options?.tag ?? "" });
  }
};
"""

HIDE_TAB = """() => {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
}"""

SHOW_TAB = """() => {
  delete document.hidden;
  delete document.visibilityState;
  document.dispatchEvent(new Event("visibilitychange"));
}"""

TITLE = "Acme · Sealdesk"
PLAIN_ICON = "/static/favicon.svg"


def chimes(page: Page) -> int:
    count: int = page.evaluate("window.__chimes")
    return count


def icon(page: Page) -> str:
    href: str = page.locator("link[rel=icon]").get_attribute("href") or ""
    return href


def test_a_message_in_the_chat_not_in_view_shows_in_title_and_favicon_and_chimes_unless_muted(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chromium() as browser:
        # Alice allowed notifications; her page records its chimes and notifications.
        context = browser.new_context(permissions=["notifications"])
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        context.add_init_script(RECORD_ATTENTION)
        alice_problems = PageProblems()
        alice = alice_problems.watch(context.new_page())
        (carla_page, carla_problems), (dora_page, dora_problems) = [
            open_page(browser) for _ in "cd"
        ]
        log_in_agent(alice, daphne.url, "alice", PASSWORD)
        expect(alice).to_have_title(TITLE)
        carla, dora = carla_then_dora(alice, carla_page, dora_page, demo_site)
        expect(alice.locator("#chat-heading")).to_have_text("Chat with Dora")
        expect(alice).to_have_title(TITLE)
        assert icon(alice).endswith(PLAIN_ICON)
        before = chimes(alice)

        # Carla writes while Alice reads Dora's chat.
        customer_says(carla, "It was due on Monday.")
        expect(alice).to_have_title(f"(1) {TITLE}")
        favicon = alice.locator("link[rel=icon]")
        expect(favicon).to_have_attribute("href", re.compile(r"^data:image/png;base64,"))
        expect(favicon).to_have_attribute("type", "image/png")
        assert chimes(alice) == before + 1
        customer_says(carla, "Tracking says nothing.")
        expect(alice).to_have_title(f"(2) {TITLE}")
        assert chimes(alice) == before + 2

        # She opens Carla's chat: the count and the badge go.
        chats = alice.locator("#conversations")
        chats.get_by_role("button", name="Carla · Support").click()
        expect(alice.locator("#messages")).to_contain_text("Tracking says nothing.")
        expect(alice).to_have_title(TITLE)
        assert icon(alice).endswith(PLAIN_ICON)

        # Muted, Dora's message counts but plays nothing; the choice outlives a reload.
        mute = alice.get_by_role("button", name="Mute sounds")
        expect(mute).to_have_attribute("aria-pressed", "false")
        mute.click()
        expect(mute).to_have_attribute("aria-pressed", "true")
        muted_at = chimes(alice)
        customer_says(dora, "It is 5 Elm Street.")
        expect(alice).to_have_title(f"(1) {TITLE}")
        assert chimes(alice) == muted_at
        alice.reload()
        expect(alice.locator("#connection")).to_have_text("Connected")
        expect(alice.get_by_role("button", name="Mute sounds")).to_have_attribute(
            "aria-pressed", "true"
        )
        alice.get_by_role("button", name="Mute sounds").click()
        expect(alice.get_by_role("button", name="Mute sounds")).to_have_attribute(
            "aria-pressed", "false"
        )

        # With the tab hidden, a message in the chat in view counts and is notified, without
        # its words; showing the tab again clears it.
        chats.get_by_role("button", name="Carla · Support").click()
        expect(alice.locator("#chat-heading")).to_have_text("Chat with Carla")
        chats.get_by_role("button", name="Dora · Support").click()
        expect(alice).to_have_title(TITLE)
        heard = chimes(alice)
        alice.evaluate(HIDE_TAB)
        customer_says(dora, "Flat 3, second floor.")
        expect(alice).to_have_title(f"(1) {TITLE}")
        assert chimes(alice) == heard + 1
        notifications = alice.evaluate("window.__notifications")
        assert [n["title"] for n in notifications] == ["New message from Dora"]
        assert "Flat 3" not in str(notifications) and "Elm" not in str(notifications)
        alice.evaluate(SHOW_TAB)
        expect(alice).to_have_title(TITLE)
        assert icon(alice).endswith(PLAIN_ICON)

        for page, problems in (
            (alice, alice_problems),
            (carla_page, carla_problems),
            (dora_page, dora_problems),
        ):
            assert csp_violations(page) == []
            assert problems.errors == []
