"""The embed tag's Copy button on the tenant's admin page, in Chromium under the admin's strict
CSP (no inline script): Ada copies Acme's tag with one click and is told "Copied."; where the
browser refuses the clipboard, the tag is selected and she is told to press Ctrl+C. Oscar, of
Globex, copies Globex's tag, never Acme's. (tests/test_widget_pinning.py pastes the copied tag
into a page and checks that it runs.)"""

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from tests.browser import RECORD_CSP_VIOLATIONS, PageProblems, chromium, csp_violations
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFUSE_CLIPBOARD = """
navigator.clipboard.writeText = () =>
  Promise.reject(new DOMException("Refused", "NotAllowedError"));
"""


def tenant_page(
    browser: Browser, url: str, staff: Staff, permissions: list[str], script: str = ""
) -> tuple[Page, PageProblems]:
    """Log STAFF's tenant admin into the admin and open the tenant's page."""
    context = browser.new_context(permissions=permissions)
    context.add_init_script(RECORD_CSP_VIOLATIONS + script)
    problems = PageProblems()
    page = problems.watch(context.new_page())
    page.goto(f"{url}{reverse('admin:agents_tenant_change', args=[staff.tenant.pk])}")
    page.get_by_label("Username").fill(staff.admin.user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Embedding the widget")).to_be_visible()
    return page, problems


def test_ada_copies_the_tag_with_one_click_and_oscar_copies_only_his_own(
    acme: Staff, globex: Staff, daphne: DaphneServer
) -> None:
    with chromium() as browser:
        clipboard = ["clipboard-read", "clipboard-write"]
        for staff, other in ((acme, globex), (globex, acme)):
            page, problems = tenant_page(browser, daphne.url, staff, clipboard)
            status = page.locator('[data-copy-status="embed-snippet"]')
            expect(status).to_have_text("")
            page.get_by_role("button", name="Copy").click()
            expect(status).to_have_text("Copied.")
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied == page.locator("#embed-snippet").input_value()
            assert f'data-sealdesk-widget="{staff.tenant.widget_id}"' in copied
            assert other.tenant.widget_id not in copied
            assert csp_violations(page) == []
            assert problems.errors == []


def test_where_the_clipboard_is_refused_the_tag_is_selected_to_copy_by_hand(
    acme: Staff, daphne: DaphneServer
) -> None:
    with chromium() as browser:
        page, problems = tenant_page(browser, daphne.url, acme, [], REFUSE_CLIPBOARD)
        page.get_by_role("button", name="Copy").click()
        status = page.locator('[data-copy-status="embed-snippet"]')
        expect(status).to_have_text("Press Ctrl+C (⌘C) to copy the selected tag.")
        field = page.locator("#embed-snippet")
        expect(field).to_be_focused()
        selected = field.evaluate("(f) => f.value.slice(f.selectionStart, f.selectionEnd)")
        assert selected == field.input_value()
        assert f'data-sealdesk-widget="{acme.tenant.widget_id}"' in selected
        assert csp_violations(page) == []
        assert problems.errors == []
