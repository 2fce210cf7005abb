"""In Chromium: files both ways, by the attach button, by drag and drop and by pasting, decrypted
in the browser and saved under their real names with the same bytes; an image gets a preview; a
100 MB file goes both ways with progress shown."""

import base64
import hashlib
import os
import random
import re
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from playwright.sync_api import Locator, Page, Route, expect

from chat.models import Upload
from tests.browser import (
    chat_in_chromium,
    csp_violations,
    outside_playwright,
)
from tests.factories import Staff
from tests.live import DaphneServer, stored_media, stored_text

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
        # After a reload the widget fetches and decrypts the image again for its preview.
        customer.reload()
        dialog = customer.locator("#sealdesk-widget").get_by_role("dialog")
        expect(dialog.get_by_role("img", name="pixel.png")).to_have_attribute(
            "src", re.compile(r"^blob:")
        )

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
        # Parts go at 100 MB/s, quicker than a click: they wait here until Cancel is pressed.
        held: list[Route] = []
        chat.customer.route("**/uploads/*/parts/*", lambda route: held.append(route))
        dialog.locator("input[type=file]").set_input_files(str(big))
        sending = dialog.locator(".transfers li", has_text="Sending big.iso")
        expect(sending.get_by_role("progressbar")).to_be_visible()
        # The bar shows before the first 4 MiB part is encrypted: Cancel is pressed once a part is
        # held on its way, so that the test covers parts in flight (it did not always, and failed).
        deadline = time.monotonic() + 30
        while not held and time.monotonic() < deadline:
            chat.customer.wait_for_timeout(20)
        assert held, "no part left the page within 30 s"
        sending.get_by_role("button", name="Cancel").click()
        for route in held:
            route.continue_()
        chat.customer.unroute("**/uploads/*/parts/*")
        expect(dialog.locator(".transfers")).to_contain_text(
            "big.iso was not sent: The upload was cancelled."
        )
        expect(agent.get_by_role("button", name="Download big.iso")).to_have_count(0)
        assert outside_playwright(Upload.objects.count) == 0
        assert problems.errors == []


def record_progress(page: Page) -> None:
    """Keep every value the page's progress bars take, by label: a part now takes a fraction of a
    second, quicker than the test could poll the bar, and the page is busy encrypting meanwhile."""
    page.evaluate(
        """() => {
          window.progressSeen = {};
          const value = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, "value");
          Object.defineProperty(HTMLProgressElement.prototype, "value", {
            ...value,
            set(to) {
              value.set.call(this, to);
              (window.progressSeen[this.getAttribute("aria-label")] ??= []).push(this.value);
            },
          });
        }"""
    )


def watch_progress(page: Page, label: str) -> list[float]:
    """Wait until the bar LABEL showed something and went away; return the values it showed."""
    bar = page.get_by_role("progressbar", name=label)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        seen: list[float] = page.evaluate("(label) => window.progressSeen[label] ?? []", label)
        if seen and not bar.count():
            return seen
        time.sleep(0.1)
    raise AssertionError(f"the progress bar {label!r} did not finish within 120 s: {seen}")


def shown_progress(seen: list[float]) -> bool:
    """Did the bar climb through values between empty and full, never going back?"""
    between = [value for value in seen if 0 < value < 1]
    return len(between) >= 3 and seen == sorted(seen)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def test_a_100_mb_file_goes_both_ways_with_progress_and_the_server_never_sees_it(
    acme: Staff, daphne: DaphneServer, demo_site: str, tmp_path: Path
) -> None:
    """The issue's "done when": 100 MB each way between Chromium pages, progress shown on both
    sides, the downloads byte-equal, and storage holding neither the name nor a byte run."""
    size = 100 * 1000 * 1000
    big = tmp_path / "site survey 2026.mp4"
    with big.open("wb") as out:
        for _ in range(size // (4 * 1000 * 1000)):
            out.write(os.urandom(4 * 1000 * 1000))
    original = file_digest(big)
    downloading = f"Downloading {big.name}"
    with chat_in_chromium(daphne.url, demo_site, "Hal", "The survey video is large") as chat:
        agent, agent_problems = chat.agent, chat.agent_problems
        customer, problems, dialog = chat.customer, chat.problems, chat.dialog

        record_progress(customer)
        record_progress(agent)
        dialog.locator("input[type=file]").set_input_files(str(big))
        sent = watch_progress(customer, f"Sending {big.name}")
        assert shown_progress(sent), sent
        button = agent.get_by_role("button", name=f"Download {big.name}")
        expect(button).to_be_visible(timeout=60_000)
        with agent.expect_download(timeout=120_000) as download:
            button.click()
            fetched = watch_progress(agent, downloading)
        assert shown_progress(fetched), fetched
        assert download.value.suggested_filename == big.name
        assert file_digest(Path(download.value.path())) == original

        agent.locator("#attach-input").set_input_files(str(big))
        sent = watch_progress(agent, f"Uploading {big.name}")
        assert shown_progress(sent), sent
        buttons = dialog.get_by_role("button", name=f"Download {big.name}")
        expect(buttons).to_have_count(2, timeout=60_000)
        with customer.expect_download(timeout=120_000) as download:
            buttons.last.click()
            fetched = watch_progress(customer, downloading)
        assert shown_progress(fetched), fetched
        assert file_digest(Path(download.value.path())) == original

        assert problems.errors == []
        assert agent_problems.errors == []

    uploads = Upload.objects.filter(conversation__tenant=acme.tenant)
    assert uploads.count() == 2 and all(upload.size > size for upload in uploads)
    # The server held ciphertext only: no name or type anywhere, and no run of the file's bytes.
    samples = []
    with big.open("rb") as source:
        for offset in random.sample(range(size - 64), 50):
            source.seek(offset)
            samples.append(source.read(64))
    stored = stored_media()
    assert len(stored) >= 2 * 24  # 4 MiB parts
    for name in stored:
        with default_storage.open(name) as part:
            content = part.read()
        assert big.name not in name
        assert not any(sample in content for sample in samples), name
    database = stored_text()
    assert big.name not in database
    assert "video/mp4" not in database
