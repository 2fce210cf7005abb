"""Accessibility checked by a machine (issue 13, part 7): axe-core (npm, node_modules) runs in
Chromium on the widget in each of its states, Alice's dashboard with a chat, its history and
canned responses, and Ada's organisation, reports, login and admin pages, in light and in dark
mode; any serious or critical violation fails, named by rule, element and summary. And by the
keyboard alone, Carla opens the widget, closes it, ends her chat and lands on the rating. The
widget wears Acme's brand colour (just dark enough), launcher side and greeting, keeps its own
fonts, and fills a phone's screen.

axe is evaluated in the page through Chromium's debugging protocol, which the pages' strict CSP
does not govern (an added <script> would be refused, as it should be); nothing of the app's CSP
is changed.
"""

import pytest
from playwright.sync_api import Page, expect

from agents.models import CannedResponse, Tenant, WidgetText
from tests.axe import Axe
from tests.browser import (
    accept_offer,
    agent_says,
    chromium,
    csp_violations,
    log_in_agent,
    open_page,
    start_chat,
)
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDGET = ["#sealdesk-widget"]


def focused(page: Page) -> str:
    """Return the focused element's accessible text, looking into the widget's shadow root."""
    text: str = page.evaluate(
        """() => {
      let el = document.activeElement;
      while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
      return (el?.getAttribute("aria-label") || el?.name || el?.textContent || "").trim();
    }"""
    )
    return text


def tab_to(page: Page, name: str, limit: int = 30) -> None:
    """Press Tab until the element named NAME has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == name:
            return
    raise AssertionError(f"Tab never reached {name!r}; the focus is on {focused(page)!r}")


def test_axe_finds_nothing_serious_in_the_widget_and_the_dashboard_in_light_and_dark_mode(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    CannedResponse.objects.create(
        tenant=acme.tenant, shortcut="greeting", title="Greeting", text="Hello, how can I help?"
    )
    # A brand colour just dark enough for white text (4.87:1), and the launcher on the left.
    Tenant.objects.filter(pk=acme.tenant.pk).update(brand_color="#0077b6", launcher_position="left")
    WidgetText.objects.create(tenant=acme.tenant, language="en", greeting="Hello from Acme!")
    axe = Axe()
    with chromium() as browser:
        (alice, alice_problems), (carla, problems) = open_page(browser), open_page(browser)
        log_in_agent(alice, daphne.url, "alice", PASSWORD)
        axe.check(alice, "dashboard, waiting")

        # By keyboard: Tab to the launcher, Enter opens on the first field, Escape gives the
        # focus back to the launcher.
        carla.goto(demo_site)
        tab_to(carla, "Chat with us")
        carla.keyboard.press("Enter")
        dialog = carla.locator("#sealdesk-widget").get_by_role("dialog", name="Chat with Acme")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_label("Name")).to_be_focused()
        launcher = carla.locator("#sealdesk-widget .launcher")
        assert (launcher.bounding_box() or {"x": 1e9})["x"] < 100  # bottom left
        expect(dialog.locator(".prechat > p").first).to_have_text("Hello from Acme!")
        # The widget's own fonts, in the launcher, fields and buttons, whatever the page's.
        for part in (launcher, dialog.get_by_label("Name"), dialog.get_by_role("button").last):
            assert part.evaluate("e => getComputedStyle(e).fontFamily").startswith("system-ui")
        axe.check(carla, "widget, pre-chat form", WIDGET)
        carla.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert focused(carla) == "Chat with us"
        carla.keyboard.press("Enter")
        expect(dialog.get_by_label("Name")).to_be_focused()

        start_chat(dialog, "Carla", "", "Where is my parcel?")
        expect(dialog.locator("p.state")).to_contain_text("in the queue")
        axe.check(carla, "widget, queued", WIDGET)
        expect(alice.locator("#offers li")).to_have_count(1)
        axe.check(alice, "dashboard, an offer")

        accept_offer(alice, "Where is my parcel?")
        agent_says(alice, "Let me look it up.")
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text("Let me look it up.")
        axe.check(carla, "widget, active with a message", WIDGET)
        alice.get_by_label("Your reply").press_sequentially("/gr")
        expect(alice.get_by_role("listbox", name="Canned responses")).to_be_visible()
        axe.check(alice, "dashboard, a chat and its canned responses")
        alice.get_by_label("Your reply").fill("")

        # By keyboard: End chat asks first, with the focus on "Keep chatting"; Shift+Tab to
        # "Yes, end the chat" and Enter ends it, with the focus on the rating's first score.
        tab_to(carla, "End chat")
        carla.keyboard.press("Enter")
        expect(dialog.get_by_role("button", name="Keep chatting")).to_be_focused()
        carla.keyboard.press("Shift+Tab")
        assert focused(carla) == "Yes, end the chat"
        carla.keyboard.press("Enter")
        expect(dialog.locator("p.state")).to_have_text("This conversation has ended.")
        expect(dialog.get_by_role("button", name="1", exact=True)).to_be_focused()
        axe.check(carla, "widget, ended, with the rating", WIDGET)

        # On a phone the panel is the whole screen, its header one title and one status line.
        carla.set_viewport_size({"width": 390, "height": 844})
        assert dialog.bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 844}
        assert (dialog.locator("header").bounding_box() or {"height": 1e9})["height"] < 70
        axe.check(carla, "widget, ended, on a phone", WIDGET)

        expect(alice.locator("#messages")).to_contain_text("Carla ended the conversation.")
        expect(alice.locator(".history-list li")).not_to_have_count(0)
        axe.check(alice, "dashboard, the ended chat and the history")

        assert csp_violations(carla) == [] and csp_violations(alice) == []
        assert problems.errors == [] and alice_problems.errors == []
    axe.assert_none()


def test_axe_finds_nothing_serious_on_the_staff_pages_and_the_admin_in_light_and_dark_mode(
    acme: Staff, daphne: DaphneServer
) -> None:
    axe = Axe()
    with chromium() as browser:
        ada, problems = open_page(browser)
        ada.goto(f"{daphne.url}/accounts/login/")
        axe.check(ada, "login")
        log_in_agent(ada, daphne.url, "ada", PASSWORD, available=False)
        pages = {
            "organisation": "/dashboard/organisation/",
            "reports": "/dashboard/reports/",
            "admin, the tenant's page": f"/admin/agents/tenant/{acme.tenant.pk}/change/",
            "admin, the agents": "/admin/agents/agent/",
        }
        for where, path in pages.items():
            ada.goto(f"{daphne.url}{path}")
            expect(ada.locator("h1").first).to_be_visible()
            axe.check(ada, where)
        assert csp_violations(ada) == []
        assert problems.errors == []
    axe.assert_none()
