"""Debian's Chromium driven by Playwright for Python: no downloaded browser."""

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import connections
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect, sync_playwright

from agents.models import Agent, Device
from sealdesk_client import protocol
from tests.factories import PASSWORD, Staff, approve
from tests.harness import CHROMIUM

T = TypeVar("T")

# Recorded before any page script runs; a CSP violation fires this event as well as a console error.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions seen on a page."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("console", self.on_console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        return page

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            where = message.location.get("url", "")
            self.errors.append(f"console.{message.type}: {message.text} {where}".strip())


@contextmanager
def chromium() -> Iterator[Browser]:
    """Yield Debian's Chromium, closed afterwards."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser, **options: Any) -> tuple[Page, PageProblems]:
    """Return a page in a fresh profile (own cookies and IndexedDB) and the problems it records;
    OPTIONS as Playwright's new_context takes them (locale, color_scheme, a phone's viewport)."""
    context = browser.new_context(**options)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    problems = PageProblems()
    return problems.watch(context.new_page()), problems


@contextmanager
def chromium_page() -> Iterator[tuple[Page, PageProblems]]:
    """Yield one fresh page and the problems it records; the caller asserts on them."""
    with chromium() as browser:
        yield open_page(browser)


def csp_violations(page: Page) -> list[str]:
    violations: list[str] = page.evaluate("window.__cspViolations")
    return violations


def log_in_agent(
    page: Page, url: str, username: str, password: str, available: bool = True
) -> None:
    """Log an agent into the dashboard and (unless AVAILABLE is false) make it available."""
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#connection")).to_have_text("Connected")
    if not available:
        return
    # The button shows the choice at once; the server has it once the request is answered.
    with page.expect_response(lambda r: r.url.endswith("/presence/") and r.ok):
        page.get_by_role("button", name="Available").click()
    expect(page.get_by_role("button", name="Available")).to_have_attribute("aria-pressed", "true")


def open_widget(page: Page, site: str, tenant_name: str) -> Locator:
    """Open the widget on the demo page and return its dialog."""
    page.goto(site)
    widget = page.locator("#sealdesk-widget")
    widget.get_by_role("button", name="Chat with us").click()
    dialog = widget.get_by_role("dialog", name=f"Chat with {tenant_name}")
    expect(dialog).to_be_visible()
    return dialog


def start_chat(dialog: Locator, name: str, email: str, question: str) -> None:
    """Fill in the widget's pre-chat form and start the chat."""
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Email (optional)").fill(email)
    dialog.get_by_label("Your question").fill(question)
    dialog.get_by_role("button", name="Start chat").click()
    expect(dialog.get_by_role("log", name="Messages")).to_contain_text(question)


def outside_playwright(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run FUNCTION in another thread: Django's ORM refuses to run inside Playwright's loop."""

    def run() -> T:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def approve_browser(staff: Staff, agent: Agent, org: protocol.OrgKey) -> None:
    """Have the tenant admin approve the browser AGENT's dashboard registered."""

    def approve_it() -> None:
        approve(staff, agent, Device.objects.get(agent=agent, revoked_at__isnull=True), org)

    outside_playwright(approve_it)


def accept_offer(agent: Page, question: str) -> None:
    """Accept the offer shown in the dashboard and wait for the customer's question."""
    agent.locator("#offers li").get_by_role("button", name="Accept").click()
    expect(agent.locator("#messages")).to_contain_text(question)


def agent_says(agent: Page, text: str) -> None:
    """Send a reply from the dashboard's open conversation."""
    agent.get_by_label("Your reply").fill(text)
    agent.get_by_role("button", name="Send", exact=True).click()


def customer_says(dialog: Locator, text: str) -> None:
    """Send a message from the widget."""
    dialog.get_by_label("Your message").fill(text)
    dialog.get_by_role("button", name="Send").click()


@dataclass
class Chat:
    """A customer in the widget chatting with Alice in her dashboard, in one Chromium."""

    browser: Browser
    agent: Page
    agent_problems: PageProblems
    customer: Page
    problems: PageProblems
    dialog: Locator


CARLA_ASKS = "Where is my parcel?"
DORA_ASKS = "Can I change my address?"


def carla_then_dora(
    alice: Page, carla_page: Page, dora_page: Page, site: str
) -> tuple[Locator, Locator]:
    """Carla, then Dora, start chats on the demo page SITE and Alice accepts each (Dora's is the
    one in view); return their widgets' dialogs."""
    carla = open_widget(carla_page, site, "Acme")
    start_chat(carla, "Carla", "", CARLA_ASKS)
    accept_offer(alice, CARLA_ASKS)
    dora = open_widget(dora_page, site, "Acme")
    start_chat(dora, "Dora", "", DORA_ASKS)
    accept_offer(alice, DORA_ASKS)
    return carla, dora


@contextmanager
def chat_in_chromium(app: str, site: str, name: str, question: str) -> Iterator[Chat]:
    """Yield a chat that the customer NAME started with QUESTION and Alice accepted."""
    with chromium() as browser:
        agent, agent_problems = open_page(browser)
        customer, problems = open_page(browser)
        log_in_agent(agent, app, "alice", PASSWORD)
        dialog = open_widget(customer, site, "Acme")
        start_chat(dialog, name, "", question)
        accept_offer(agent, question)
        yield Chat(browser, agent, agent_problems, customer, problems, dialog)
