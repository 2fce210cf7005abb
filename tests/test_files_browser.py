"""In Chromium: files both ways, by the attach button and by drag and drop, decrypted in the
browser and saved under their real names with the same bytes; an image gets a preview."""

import base64
import os
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from chat.models import Upload
from tests.browser import (
    chat_in_chromium,
    csp_violations,
    outside_playwright,
)
from tests.conftest import Staff
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A 1x1 PNG, to see the preview.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def drop_file(page: Page, target: Locator, name: str, mime: str, content: bytes) -> None:
    """Drop a file on TARGET as a person would drag it from their desktop."""
    transfer = page.evaluate_handle(
        """([name, mime, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], name, { type: mime }));
            return data;
        }""",
        [name, mime, base64.b64encode(content).decode()],
    )
    target.dispatch_event("drop", {"dataTransfer": transfer})


def test_files_go_both_ways_by_button_and_by_drag_and_drop(
    acme: Staff, daphne: DaphneServer, demo_site: str, tmp_path: Path
) -> None:
    report = tmp_path / "quarterly report.pdf"
    report.write_bytes(os.urandom(2 * 1024 * 1024 + 777))  # three chunks
    with chat_in_chromium(daphne.url, demo_site, "Fay", "I send you my report") as chat:
        agent, agent_problems = chat.agent, chat.agent_problems
        customer, problems, dialog = chat.customer, chat.problems, chat.dialog

        # Customer to agent, with the attach button.
        dialog.locator("input[type=file]").set_input_files(str(report))
        download_button = agent.get_by_role("button", name="Download quarterly report.pdf")
        expect(download_button).to_be_visible(timeout=30_000)
        with agent.expect_download() as download:
            download_button.click()
        assert download.value.suggested_filename == "quarterly report.pdf"
        assert Path(download.value.path()).read_bytes() == report.read_bytes()

        # Agent to customer, by drag and drop: an image, previewed after decryption.
        drop_file(agent, agent.locator("#chat"), "pixel.png", "image/png", PIXEL)
        pixel_button = dialog.get_by_role("button", name="Download pixel.png")
        expect(pixel_button).to_be_visible(timeout=30_000)
        with customer.expect_download() as download:
            pixel_button.click()
        assert Path(download.value.path()).read_bytes() == PIXEL
        expect(dialog.get_by_role("img", name="pixel.png")).to_be_visible()

        assert csp_violations(customer) == []
        assert csp_violations(agent) == []
        assert problems.errors == []
        assert agent_problems.errors == []


def test_a_pasted_screenshot_reaches_the_agent_with_a_preview(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chat_in_chromium(daphne.url, demo_site, "Gus", "See my screen") as chat:
        agent, agent_problems = chat.agent, chat.agent_problems
        problems, dialog = chat.problems, chat.dialog

        dialog.get_by_label("Your message").evaluate(
            """(box, b64) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const data = new DataTransfer();
                data.items.add(new File([bytes], "screenshot.png", { type: "image/png" }));
                const paste = { clipboardData: data, bubbles: true };
                box.dispatchEvent(new ClipboardEvent("paste", paste));
            }""",
            base64.b64encode(PIXEL).decode(),
        )
        button = agent.get_by_role("button", name="Download screenshot.png")
        expect(button).to_be_visible(timeout=30_000)
        with agent.expect_download() as download:
            button.click()
        assert Path(download.value.path()).read_bytes() == PIXEL
        expect(agent.get_by_role("img", name="screenshot.png")).to_be_visible()
        expect(dialog.get_by_label("Your message")).to_have_value("")
        assert problems.errors == []
        assert agent_problems.errors == []


def test_a_cancelled_upload_is_announced_nowhere_and_leaves_nothing_on_the_server(
    acme: Staff, daphne: DaphneServer, demo_site: str, tmp_path: Path
) -> None:
    big = tmp_path / "big.iso"
    big.write_bytes(os.urandom(40 * 1024 * 1024))
    with chat_in_chromium(daphne.url, demo_site, "Hal", "A big file is coming") as chat:
        agent, problems, dialog = chat.agent, chat.problems, chat.dialog
        dialog.locator("input[type=file]").set_input_files(str(big))
        sending = dialog.locator(".transfers li", has_text="Sending big.iso")
        expect(sending.get_by_role("progressbar")).to_be_visible()
        sending.get_by_role("button", name="Cancel").click()
        expect(dialog.locator(".transfers")).to_contain_text(
            "big.iso was not sent: The upload was cancelled."
        )
        expect(agent.get_by_role("button", name="Download big.iso")).to_have_count(0)
        assert outside_playwright(Upload.objects.count) == 0
        assert problems.errors == []
