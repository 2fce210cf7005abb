"""The widget in the customer's language, and what a customer expects of it (issue 13, parts 1, 3,
4 and 6), in Chromium on the demo page:

- Greta's browser speaks German: the widget loads the German catalogue it pins and speaks German
  from the launcher on; every string it shows comes from locale/de/LC_MESSAGES/djangojs.po
  (looked up here, so that the test checks the catalogue, not a second list of words).
- She chats with Alice: names and times above the messages, also after a reload; while her chat
  is minimised Alice's reply shows as a count on the launcher and in the page title, gone once
  she looks; she downloads the transcript as text and as a printable page, made in her browser.
- A page whose snippet asks for the pseudo-locale ar-XB gets the widget right to left.
"""

import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Locator, Page, expect

from chat.widget_files import current_widget
from tests.browser import (
    accept_offer,
    agent_says,
    chromium,
    csp_violations,
    log_in_agent,
    open_page,
)
from tests.catalogues import de
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer, DemoSite

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Wo ist mein Paket?"
REPLY = "Es kommt morgen an."


def open_german_widget(page: Page, site: str) -> Locator:
    page.goto(site)
    widget = page.locator("#sealdesk-widget")
    expect(widget).to_have_attribute("lang", "de")
    widget.get_by_role("button", name=de("Chat with us")).click()
    dialog = widget.get_by_role("dialog", name=de("Chat with {tenant}", tenant="Acme"))
    expect(dialog).to_be_visible()
    return dialog


def test_a_german_customer_chats_in_german_is_told_of_replies_and_keeps_a_transcript(
    acme: Staff, daphne: DaphneServer, demo_site: str, tmp_path: Path
) -> None:
    with chromium() as browser:
        alice, alice_problems = open_page(browser)
        greta, problems = open_page(browser, locale="de-DE")
        log_in_agent(alice, daphne.url, "alice", PASSWORD)

        chatting_with_alice = de("You are chatting with {name}.", name="Alice")
        dialog = open_german_widget(greta, demo_site)
        expect(dialog).to_contain_text(de("Tell us who you are and how we can help."))
        dialog.get_by_label(de("Name"), exact=True).fill("Greta")
        dialog.get_by_label(de("Your question")).fill(QUESTION)
        dialog.get_by_role("button", name=de("Start chat")).click()
        log = dialog.get_by_role("log", name=de("Messages"))
        expect(log).to_contain_text(QUESTION)
        accept_offer(alice, QUESTION)
        expect(dialog.locator("p.state")).to_contain_text(chatting_with_alice)

        # Her own message under her name ("Sie" in German) and the time she signed into it.
        own = log.locator(".message.me").first
        expect(own.locator(".byline")).to_contain_text(de("You"))
        expect(own.locator(".byline time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))

        # Minimised, Alice's reply shows on the launcher and in the page title, until she looks.
        title = greta.title()
        dialog.get_by_role("button", name=de("Minimize chat")).click()
        agent_says(alice, REPLY)
        launcher = greta.locator("#sealdesk-widget .launcher")
        expect(launcher.locator(".badge")).to_have_text("1")
        expect(greta).to_have_title(f"(1) {title}")
        launcher.click()
        expect(log.locator(".message.them").last).to_contain_text(REPLY)
        expect(launcher.locator(".badge")).to_be_hidden()
        expect(greta).to_have_title(title)

        # After a reload: names and times still there, the agent still named.
        greta.reload()
        dialog = greta.locator("#sealdesk-widget").get_by_role("dialog")
        expect(dialog).to_be_visible()  # it was open, so it opens again
        reply = dialog.locator(".message.them").last
        expect(reply).to_contain_text(REPLY)
        expect(reply.locator(".byline")).to_contain_text("Alice")
        expect(reply.locator(".byline time")).to_be_visible()
        expect(dialog.locator("p.state")).to_contain_text(chatting_with_alice)
        expect(greta.locator("#sealdesk-widget .launcher .badge")).to_be_hidden()

        # The transcripts, made in her browser: the text and the printable page.
        with greta.expect_download() as text_download:
            dialog.get_by_role("button", name=de("Transcript (text)")).click()
        text = Path(text_download.value.path()).read_text(encoding="utf-8")
        assert text.startswith(de("Chat with {tenant}", tenant="Acme"))
        # This page pins no organisation key: Alice's name is the server's word, and says so.
        assert f"Alice {de('(unverified)')}: {REPLY}" in text and QUESTION in text
        with greta.expect_download() as page_download:
            dialog.get_by_role("button", name=de("Transcript (printable page)")).click()
        assert page_download.value.suggested_filename.endswith(".html")
        printable = tmp_path / "transcript.html"
        page_download.value.save_as(printable)
        # Opened as a page of its own, it shows the conversation, every text escaped.
        view, _ = open_page(browser)
        view.goto(printable.as_uri())
        expect(view.locator("h1")).to_have_text(de("Chat with {tenant}", tenant="Acme"))
        expect(view.locator("li", has_text=REPLY)).to_contain_text("Alice")
        expect(view.locator("html")).to_have_attribute("lang", "de")

        assert csp_violations(greta) == []
        assert problems.errors == [] and alice_problems.errors == []


def test_a_page_that_asks_for_a_right_to_left_language_gets_the_widget_right_to_left(
    acme: Staff, daphne: DaphneServer
) -> None:
    build = current_widget()
    tag = (
        f'<script type="module" src="{daphne.url}{build.path}" integrity="{build.integrity}" '
        f'crossorigin="anonymous" data-sealdesk-widget="{acme.tenant.widget_id}" '
        'data-lang="ar-XB"></script>'
    )
    site = DemoSite(daphne.url, acme.tenant.widget_id, snippet=tag)
    acme.tenant.allowed_origins = site.origin
    acme.tenant.save()
    site.start()
    try:
        with chromium() as browser:
            page, problems = open_page(browser, locale="de-DE")  # the snippet's language wins
            page.goto(site.origin)
            widget = page.locator("#sealdesk-widget")
            expect(widget).to_have_attribute("dir", "rtl")
            expect(widget).to_have_attribute("lang", "ar-XB")
            launcher = widget.locator(".launcher")
            expect(launcher).to_have_text("\u202eChat with us\u202c")
            launcher.click()
            form = widget.locator("form.prechat")
            # Right to left: the start button, at the start of its line, sits at the right.
            button = form.get_by_role("button").last.bounding_box()
            box = form.bounding_box()
            assert button and box and button["x"] + button["width"] > box["x"] + box["width"] - 2
            assert csp_violations(page) == [] and problems.errors == []
    finally:
        site.stop()
    assert reverse("widget_catalogue", args=["0" * 64]).startswith("/widget/i18n/")
