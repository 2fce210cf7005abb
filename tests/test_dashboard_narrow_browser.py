"""The dashboard on a phone-sized screen (390 x 844), in Chromium: Alice's offer list, her open
chat (with a long unbroken line from Carla), her history, and Sam's supervisor board never
scroll sideways, and every control she needs is on the screen, reachable by scrolling down."""

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from agents.models import Tenant
from tests.browser import (
    RECORD_CSP_VIOLATIONS,
    PageProblems,
    agent_says,
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

PHONE = {"width": 390, "height": 844}
LONG_LINE = "https://www.acme.example/orders/" + "7781" * 30

# What sticks out on the right of the window, for a failure message that names it.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const out = [...document.querySelectorAll("body *")].filter((e) => {
    const box = e.getBoundingClientRect();
    return box.width && box.right > width + 0.5;
  });
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: width,
    out: out.slice(0, 8).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`),
  };
}"""


def fits(page: Page, where: str) -> None:
    """Assert that the page does not scroll sideways, naming what sticks out if it does."""
    found: dict[str, Any] = page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= found["innerWidth"], f"{where}: {found}"


def on_screen(control: Locator) -> None:
    """Assert that CONTROL is visible and, scrolled to, lies within the window's width."""
    expect(control).to_be_visible()
    # In one step: the offer list is drawn anew every second.
    left, right = control.evaluate(
        "(e) => { e.scrollIntoView({ block: 'center' }); const b = e.getBoundingClientRect();"
        " return [b.left, b.right]; }"
    )
    assert left >= 0 and right <= PHONE["width"], control


def phone_page(browser: Any) -> tuple[Page, PageProblems]:
    context = browser.new_context(viewport=PHONE)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    problems = PageProblems()
    return problems.watch(context.new_page()), problems


def test_alices_dashboard_and_sams_board_fit_a_390_px_screen(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    acme.tenant.supervision = Tenant.Supervision.MONITOR
    acme.tenant.save()
    with chromium() as browser:
        (alice, alice_problems), (sam, sam_problems) = phone_page(browser), phone_page(browser)
        carla_page, carla_problems = open_page(browser)
        log_in_agent(alice, daphne.url, "alice", PASSWORD)
        fits(alice, "empty dashboard")
        for name in ("Available", "Away", "Offline", "Mute sounds", "Log out"):
            on_screen(alice.get_by_role("button", name=name, exact=True))

        # An offer waits.
        carla = open_widget(carla_page, demo_site, "Acme")
        start_chat(carla, "Carla", "", "Where is my parcel? " + LONG_LINE)
        offer = alice.locator("#offers li")
        expect(offer).to_be_visible()
        fits(alice, "offer list")
        on_screen(offer.get_by_role("button", name="Accept"))
        on_screen(offer.get_by_role("button", name="Decline"))

        # The chat, open, with a long unbroken line both ways.
        offer.get_by_role("button", name="Accept").click()
        expect(alice.locator("#messages")).to_contain_text("Where is my parcel?")
        agent_says(alice, f"Your order: {LONG_LINE}")
        customer_says(carla, LONG_LINE)
        expect(alice.locator("#messages li.them")).to_have_count(1)
        fits(alice, "chat open")
        for name in ("Send", "Attach a file", "Staff note", "Ask to join", "Transfer", "Park"):
            on_screen(alice.get_by_role("button", name=name, exact=True))
        for label in ("Your reply", "Colleague", "Queue", "Wrap-up"):
            on_screen(alice.get_by_label(label, exact=True))

        # Sam's board lists the chat, with its Monitor button.
        log_in_agent(sam, daphne.url, "sam", PASSWORD, available=False)
        board = sam.locator(".board")
        expect(board.locator("#board-chats li")).to_have_count(1)
        fits(sam, "supervisor board")
        on_screen(board.get_by_role("button", name="Monitor"))
        # Sam's reports: figures, tables and charts in one column.
        reports = sam.context.new_page()
        reports.goto(f"{daphne.url}/dashboard/reports/")
        expect(reports.get_by_role("heading", name="Reports")).to_be_visible()
        fits(reports, "reports")
        reports.close()

        # Closed, the chat goes to the history, which opens it read-only.
        alice.get_by_label("Wrap-up").select_option(label="Resolved")
        alice.get_by_role("button", name="Close conversation").click()
        history = alice.locator("#history-list")
        expect(history.get_by_role("button", name="Carla · Support")).to_be_visible()
        fits(alice, "history")
        on_screen(alice.locator("#history-search").get_by_role("button", name="Search"))
        history.get_by_role("button", name="Carla · Support").click()
        expect(alice.locator("#ended")).to_be_visible()
        expect(alice.locator("#messages")).to_contain_text(LONG_LINE)
        fits(alice, "a chat of the history")

        for page, problems in ((alice, alice_problems), (sam, sam_problems)):
            assert csp_violations(page) == []
            assert problems.errors == []
        assert carla_problems.errors == []
