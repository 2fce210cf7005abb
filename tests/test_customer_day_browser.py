"""Issue 13's "done when", in Chromium: Greta, who speaks German, on her phone (390x844, touch) in
dark mode, tried as a new customer would. At night nobody at Acme can answer: the widget, in
German and full screen, offers to leave a message; she leaves one and asks to be told by e-mail.
The next morning Alice picks it up and answers; one mail tells Greta that a reply is waiting and
nothing more. She comes back on the same phone, reads the answer, ends the chat, rates it with a
comment that only Alice's browser can read, and downloads the transcript. axe finds nothing
serious or critical on the way, and the screenshots are the README's ("The customer's side"):

    SEALDESK_SCREENSHOTS=1 timeout 600 .venv/bin/python -m pytest tests/test_customer_day_browser.py
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from agents.models import Team
from chat.models import Conversation, Event
from tests.axe import Axe
from tests.browser import agent_says, chromium, csp_violations, open_page, outside_playwright
from tests.catalogues import de
from tests.factories import Staff
from tests.live import DaphneServer
from tests.test_offline_messages_browser import closed_today, mail_in
from tests.test_transfer_browser import log_in_approved, pinned_acme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MESSAGE = "Mein Paket ist beschädigt angekommen. Können Sie mich morgen anrufen?"
ANSWER = "Guten Morgen Greta, wir schicken Ihnen heute ein neues Paket."
COMMENT = "Schnell und freundlich, danke!"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "locale": "de-DE",
    "color_scheme": "dark",
}
WIDGET = ["#sealdesk-widget"]


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    # Two loaded cores run the server, the demo page and three browser pages.
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


def background(page: Page, selector: str) -> str:
    """Return the computed background colour of SELECTOR in the widget's shadow root."""
    color: str = (
        page.locator("#sealdesk-widget")
        .locator(selector)
        .evaluate("(node) => getComputedStyle(node).backgroundColor")
    )
    return color


def test_greta_leaves_a_message_at_night_on_her_phone_in_german_and_reads_the_answer_next_morning(
    acme: Staff, daphne: DaphneServer, tmp_path: Path, screenshots: Path
) -> None:
    axe = Axe()
    outside_playwright(closed_today, acme.team)
    with pinned_acme(acme, daphne) as (_, site), chromium() as browser:
        alice, alice_problems = open_page(browser)
        log_in_approved(acme, alice, daphne.url, acme.agent, available=False)
        greta, problems = open_page(browser, **PHONE)

        # At night: the widget speaks German, covers the phone's screen, and is dark.
        greta.goto(site.origin)
        widget = greta.locator("#sealdesk-widget")
        expect(widget).to_have_attribute("lang", "de")
        widget.get_by_role("button", name=de("Chat with us")).click()
        dialog = widget.get_by_role("dialog", name=de("Chat with {tenant}", tenant="Acme"))
        expect(dialog).to_be_visible()
        box = dialog.bounding_box()
        assert box and box["width"] == 390 and box["height"] >= 800
        assert background(greta, ".panel") == "rgb(27, 31, 39)"  # --sd-bg in dark mode
        expect(dialog.locator("p.hours")).to_contain_text(
            de("{team} is closed now.", team="Support")
        )
        expect(dialog.locator("p.hours")).to_contain_text(
            de("Leave a message and we will answer it here.")
        )
        axe.check(greta, "the widget at night, closed", WIDGET, then="dark")

        # She leaves a message, and asks to be told by e-mail.
        dialog.get_by_label(de("Name"), exact=True).fill("Greta")
        dialog.get_by_label(de("Your message"), exact=True).fill(MESSAGE)
        dialog.get_by_role("button", name=de("Leave a message"), exact=True).click()
        expect(dialog.get_by_role("log", name=de("Messages"))).to_contain_text(MESSAGE)
        expect(dialog.locator("p.state")).to_contain_text(
            de(
                "Your message is with {team}. An agent will answer it here: come back to this "
                "page in this browser to read the answer.",
                team="Support",
            )
        )
        dialog.get_by_label(de("Tell me by e-mail when the answer is here")).check()
        dialog.get_by_label(de("Your e-mail address")).fill("greta@example.de")
        dialog.get_by_role("button", name=de("Tell me by e-mail"), exact=True).click()
        expect(dialog).to_contain_text(
            de("We will write to you once, when the answer is here. Untick the box to cancel.")
        )
        axe.check(greta, "the widget with a message left", WIDGET, then="dark")
        greta.screenshot(path=screenshots / "8-german-phone-message-left.png")
        greta.goto("about:blank")  # Greta goes to bed

        # The next morning: Support is open; Alice picks the message up and answers it.
        outside_playwright(
            lambda: Team.objects.filter(pk=acme.team.pk).update(hours="", holidays="")
        )
        alice.reload()
        alice.locator("#offline-list li").get_by_role("button", name="Pick up").click()
        expect(alice.locator("#messages")).to_contain_text(MESSAGE)
        assert mail_in(tmp_path / "mail", timeout=1) == []  # opening it is no answer
        agent_says(alice, ANSWER)

        # One mail, in German: a reply from Acme waits; nothing of the chat is in it.
        [notice] = mail_in(tmp_path / "mail")
        assert "greta@example.de" in notice and "Acme" in notice
        for private in ("Paket", "Greta", "Guten Morgen"):
            assert private not in notice

        # Greta comes back on the same phone: the answer waits, from Alice, verified by Acme.
        greta.goto(site.origin)
        dialog = greta.locator("#sealdesk-widget").get_by_role("dialog")
        expect(dialog.get_by_role("log")).to_contain_text(ANSWER)
        verified = de("{name} (verified by {tenant})", name="Alice", tenant="Acme")
        expect(dialog.locator("p.state")).to_contain_text(
            de("You are chatting with {name}.", name=verified)
        )
        expect(dialog.locator(".message.them .byline")).to_contain_text("Alice")
        axe.check(greta, "the widget with the answer", WIDGET, then="dark")
        greta.screenshot(path=screenshots / "9-german-phone-answer.png")

        # She ends the chat, rates it and leaves a comment.
        dialog.get_by_role("button", name=de("End chat")).click()
        dialog.get_by_role("button", name=de("Yes, end the chat")).click()
        expect(dialog.locator("p.state")).to_have_text(de("This conversation has ended."))
        dialog.get_by_role("button", name="5", exact=True).click()
        expect(dialog).to_contain_text(
            de("Thank you: you rated this chat {score} out of 5.", score="5")
        )
        dialog.get_by_label(de("Add a comment (optional)")).fill(COMMENT)
        dialog.get_by_role("button", name=de("Send comment")).click()
        expect(dialog).to_contain_text(de("Thank you for your comment."))
        axe.check(greta, "the widget, ended and rated", WIDGET, then="dark")
        greta.screenshot(path=screenshots / "10-german-phone-rated.png")

        # The transcript, made on her phone from what it decrypted.
        with greta.expect_download() as download:
            dialog.get_by_role("button", name=de("Transcript (text)")).click()
        transcript = Path(download.value.path()).read_text(encoding="utf-8")
        assert MESSAGE in transcript and f"Alice: {ANSWER}" in transcript

        def stored() -> tuple[int | None, list[str]]:
            conversation = Conversation.objects.get(tenant=acme.tenant)
            bodies = [str(e.body) for e in Event.objects.filter(conversation=conversation)]
            return conversation.satisfaction, bodies

        score, bodies = outside_playwright(stored)
        assert score == 5
        for words in ("beschädigt", "neues Paket", "freundlich"):
            assert not any(words in body for body in bodies)
        assert csp_violations(greta) == [] and csp_violations(alice) == []
        assert problems.errors == [] and alice_problems.errors == []
    axe.assert_none()
