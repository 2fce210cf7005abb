"""Debian's Chromium driven by Playwright for Python: no downloaded browser."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this
# closed network refuses (console noise and slow starts).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

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
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser: Browser) -> tuple[Page, PageProblems]:
    """Return a page in a fresh profile (own cookies and IndexedDB) and the problems it records."""
    context = browser.new_context()
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
