"""History and search in Chromium (issue 12, part 2): Alice answers Carla on her approved browser
and closes the chat; it leaves her list for her history, where after a reload she opens it,
decrypted and read-only, and finds it by a word, while no word of her search reaches the server
and the copy this browser keeps is sealed. Her second approved browser lists the chat but cannot
read it (it was never in it); the chat Alice answers Dora from there is readable there only."""

import base64
import json
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from agents.models import Agent, Device
from tests.browser import (
    accept_offer,
    agent_says,
    chromium,
    csp_violations,
    log_in_agent,
    open_page,
    open_widget,
    outside_playwright,
    start_chat,
)
from tests.factories import ORG_KEY, PASSWORD, Staff, approve
from tests.live import DaphneServer
from tests.test_transfer_browser import log_in_approved, pinned_acme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARLA = "Where is parcel 7781?"
REPLY = "Parcel 7781 left the Zurich depot this morning."
DORA = "Can I return the blue kettle?"

# Every value of the history store, as the bytes IndexedDB holds (the sealed index).
READ_STORE = """async () => {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open("sealdesk-history", 1);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const all = await new Promise((resolve, reject) => {
    const request = db.transaction("kv").objectStore("kv").getAll();
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return all.map((box) => ({ v: box.v, nonce: Array.from(box.nonce), ct: Array.from(box.ct) }));
}"""


def close_chat(page: Page, disposition: str) -> None:
    page.get_by_label("Wrap-up").select_option(label=disposition)
    page.get_by_role("button", name="Close conversation").click()
    expect(page.locator("#ended")).to_be_visible()


def search(page: Page, words: str) -> None:
    page.get_by_label("Search your conversations").fill(words)
    page.locator("#history-search").get_by_role("button", name="Search").click()


def approve_newest_browser(acme: Staff, agent: Agent) -> None:
    def approve_it() -> None:
        device = Device.objects.filter(agent=agent, cert__isnull=True).latest("created_at")
        approve(acme, agent, device, ORG_KEY)

    outside_playwright(approve_it)


def test_alice_reads_and_searches_her_closed_chat_in_the_browser_that_was_in_it(
    acme: Staff, daphne: DaphneServer
) -> None:
    with pinned_acme(acme, daphne) as (_, site), chromium() as browser:
        pages = [open_page(browser) for _ in range(4)]
        (alice, _), (carla_page, _), (second, _), (dora_page, _) = pages
        sent: list[str] = []

        def record(request: Request) -> None:
            sent.append(f"{request.url} {request.post_data or ''}")

        alice.on("request", record)
        alice.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(str(frame))))
        log_in_approved(acme, alice, daphne.url, acme.agent, available=True)
        history = alice.locator("#history-list")
        expect(alice.locator("#history-status")).to_have_text("No earlier conversations yet.")

        carla = open_widget(carla_page, site.origin, "Acme")
        start_chat(carla, "Carla", "", CARLA)
        accept_offer(alice, CARLA)
        agent_says(alice, REPLY)
        expect(carla).to_contain_text("Zurich depot")
        close_chat(alice, "Resolved")

        # The chat leaves her list for her history, with its wrap-up.
        expect(alice.get_by_text("No active conversations.")).to_be_visible()
        row = history.locator("li").filter(has_text="Carla · Support")
        expect(row).to_contain_text("Resolved")
        expect(row).to_contain_text("Alice")

        # After a reload it opens from the history, decrypted here, and takes no reply.
        alice.reload()
        expect(alice.locator("#connection")).to_have_text("Connected")
        history.get_by_role("button", name="Carla · Support").click()
        expect(alice.locator("#chat-heading")).to_have_text("Earlier chat with Carla")
        messages = alice.locator("#messages")
        expect(messages).to_contain_text(CARLA)
        expect(messages).to_contain_text(REPLY)
        expect(messages).to_contain_text("You ended the conversation.")
        expect(alice.locator("#ended")).to_be_visible()
        expect(alice.get_by_label("Your reply")).to_be_hidden()
        expect(alice.locator("#wrap-up")).to_be_hidden()
        expect(alice.get_by_text("No active conversations.")).to_be_visible()

        # Search, in the browser: words in any order and case, accents or not.
        search(alice, "zürich 7781")
        status = alice.locator("#history-status")
        expect(status).to_have_text(
            "1 conversation matches “zürich 7781” among the 1 earlier conversations this "
            "browser can read."
        )
        expect(history.locator("li .hit")).to_have_text(
            ["Carla: Carla · Where is parcel 7781?", f"You: {REPLY}"]
        )
        expect(history.locator("mark").first).to_have_text("7781")
        search(alice, "kettle")
        expect(status).to_have_text(
            "Nothing matches “kettle” among the 1 earlier conversations this browser can read."
        )
        expect(history.locator("li")).to_have_count(0)
        search(alice, "")
        expect(history.locator("li")).to_have_count(1)
        # No word of a search left the browser, by HTTP or by the socket.
        assert not [line for line in sent if "zürich" in line.lower() or "kettle" in line]
        # The copy kept for searching is sealed: its bytes hold none of the words.
        kept: list[dict[str, Any]] = alice.evaluate(READ_STORE)
        assert len(kept) == 1 and kept[0]["v"] == 1 and len(kept[0]["nonce"]) == 24
        raw = bytes(kept[0]["ct"])
        assert b"7781" not in raw and b"Zurich" not in raw and b"Carla" not in raw
        assert b"7781" not in base64.b64encode(raw)

        # Alice's second browser, approved too, lists the chat and cannot read it.
        log_in_agent(second, daphne.url, "alice", PASSWORD, available=False)
        expect(second.locator("#device-state")).to_contain_text("waiting for a tenant admin")
        approve_newest_browser(acme, acme.agent)
        second.reload()
        expect(second.locator("#device-state")).to_be_hidden()
        other = second.locator("#history-list li")
        expect(other).to_have_count(1)
        expect(other).to_contain_text(
            "Readable only in the browser you used for it: this browser was not in the chat."
        )
        expect(other.get_by_role("button")).to_have_count(0)
        search(second, "7781")
        expect(second.locator("#history-status")).to_have_text(
            "Nothing matches “7781” among the 0 earlier conversations this browser can read."
        )

        # Dora's chat, answered from the second browser (the first is closed meanwhile), is
        # readable there and not in the first.
        alice.goto("about:blank")
        second.get_by_role("button", name="Available").click()
        dora = open_widget(dora_page, site.origin, "Acme")
        start_chat(dora, "Dora", "", DORA)
        accept_offer(second, DORA)
        close_chat(second, "Needs follow-up")
        second.reload()
        expect(second.locator("#connection")).to_have_text("Connected")
        second.locator("#history-list").get_by_role("button", name="Dora · Support").click()
        expect(second.locator("#messages")).to_contain_text(DORA)
        alice.goto(f"{daphne.url}/dashboard/")
        expect(alice.locator("#connection")).to_have_text("Connected")
        doras = history.locator("li").filter(has_text="Needs follow-up")
        expect(doras).to_contain_text("Readable only in the browser you used for it")
        expect(history.get_by_role("button", name="Carla · Support")).to_be_visible()

        for page, problems in pages:
            assert csp_violations(page) == []
            assert problems.errors == [], json.dumps(problems.errors)
