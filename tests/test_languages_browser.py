"""Languages (issue 13, part 1) in Chromium: Alice's browser asks for German (de-DE), and her
login page and dashboard come in German: the template's words from Django, and the words the
dashboard's scripts write from the JSON catalogue the page names. The browser strings' own
catalogue here is a small one of the test's, given to the server as an operator's translations
(SEALDESK_LOCALE_DIRS), so that the test does not depend on how locale/ words them."""

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser import RECORD_CSP_VIOLATIONS, PageProblems, chromium, csp_violations
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BROWSER_STRINGS = {
    "Connected": "Verbunden",
    "Keys:": "Tasten:",
    "accept the oldest offer": "das älteste Angebot annehmen",
}


def german_browser_catalogue(folder: Path) -> Path:
    """Write and compile a German djangojs catalogue of BROWSER_STRINGS under FOLDER."""
    messages = folder / "de" / "LC_MESSAGES"
    messages.mkdir(parents=True)
    entries = "".join(f'\nmsgid "{k}"\nmsgstr "{v}"\n' for k, v in BROWSER_STRINGS.items())
    (messages / "djangojs.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Language: de\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n' + entries,
        encoding="utf-8",
    )
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "msgfmt is missing: scripts/install installs Debian's gettext"
    subprocess.run(
        [msgfmt, "--check", "-o", str(messages / "djangojs.mo"), str(messages / "djangojs.po")],
        check=True,
    )
    return folder


@pytest.fixture
def german_daphne(transactional_db: None, settings: Any, tmp_path: Path) -> Iterator[DaphneServer]:
    settings.MEDIA_ROOT = tmp_path / "media"
    locale = german_browser_catalogue(tmp_path / "locale")
    server = DaphneServer(
        env={"MEDIA_ROOT": str(settings.MEDIA_ROOT), "SEALDESK_LOCALE_DIRS": str(locale)}
    )
    server.start()
    yield server
    server.stop()


def test_alices_dashboard_in_german_from_django_and_the_js_catalogue(
    acme: Staff, german_daphne: DaphneServer
) -> None:
    with chromium() as browser:
        context = browser.new_context(locale="de-DE")
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        problems = PageProblems()
        alice = problems.watch(context.new_page())

        alice.goto(f"{german_daphne.url}/accounts/login/")
        expect(alice.locator("html")).to_have_attribute("lang", "de")
        expect(alice.get_by_role("heading", name="Anmelden")).to_be_visible()
        alice.get_by_label("Benutzername").fill("alice")
        alice.get_by_label("Passwort").fill(PASSWORD)
        alice.get_by_role("button", name="Anmelden").click()

        # From the JS catalogue: what the dashboard's scripts write once the socket is open.
        expect(alice.locator("#connection")).to_have_text("Verbunden")
        help_line = alice.locator("#shortcuts-help")
        expect(help_line).to_contain_text("Tasten:")
        expect(help_line).to_contain_text("Alt+A das älteste Angebot annehmen")
        # A string the test's catalogue lacks shows in English, Django's words in German.
        expect(help_line).to_contain_text("next conversation")
        expect(alice.get_by_role("heading", name="Angebote")).to_be_visible()
        alice.get_by_role("button", name="Verfügbar").click()
        expect(alice.get_by_role("button", name="Verfügbar")).to_have_attribute(
            "aria-pressed", "true"
        )
        assert problems.errors == []
        assert csp_violations(alice) == []
        context.close()
