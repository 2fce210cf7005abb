"""Languages (issue 13, part 1) in Chromium: Alice's browser asks for German (de-DE), and her
login page and dashboard come in German: the template's words from Django, and the words the
dashboard's scripts write from the JSON catalogue the page names (locale/de/LC_MESSAGES/
djangojs.po, looked up here, so that the test checks the catalogue rather than its wording)."""

import pytest
from playwright.sync_api import expect

from tests.browser import chromium, csp_violations, open_page
from tests.catalogues import de
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alices_dashboard_in_german_from_django_and_the_js_catalogue(
    acme: Staff, daphne: DaphneServer
) -> None:
    with chromium() as browser:
        alice, problems = open_page(browser, locale="de-DE")
        alice.goto(f"{daphne.url}/accounts/login/")
        expect(alice.locator("html")).to_have_attribute("lang", "de")
        expect(alice.get_by_role("heading", name="Anmelden")).to_be_visible()
        alice.get_by_label("Benutzername").fill("alice")
        alice.get_by_label("Passwort").fill(PASSWORD)
        alice.get_by_role("button", name="Anmelden").click()

        # From the JS catalogue: what the dashboard's scripts write once the socket is open.
        expect(alice.locator("#connection")).to_have_text(de("Connected"))
        help_line = alice.locator("#shortcuts-help")
        expect(help_line).to_contain_text(de("Keys:"))
        expect(help_line).to_contain_text(f"Alt+A {de('accept the oldest offer')}")
        expect(alice.get_by_role("heading", name="Angebote")).to_be_visible()
        alice.get_by_role("button", name="Verfügbar").click()
        expect(alice.get_by_role("button", name="Verfügbar")).to_have_attribute(
            "aria-pressed", "true"
        )
        assert problems.errors == []
        assert csp_violations(alice) == []
