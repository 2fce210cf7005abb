"""In Chromium: the widget on a page of another origin, under that page's strict CSP, chatting
with an agent's dashboard both ways; then both reload and see the history, decrypted again."""

import re
import time

import pytest
from playwright.sync_api import expect

from chat.models import Conversation
from tests.browser import (
    accept_offer,
    agent_says,
    chat_in_chromium,
    chromium,
    csp_violations,
    customer_says,
    log_in_agent,
    open_page,
    open_widget,
    start_chat,
)
from tests.factories import PASSWORD, Staff
from tests.live import DaphneServer, stored_text

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Where is my parcel 4711?"
REPLY = "Hello, this is Alice. Let me check parcel 4711."
ANSWER = "Thank you, it was sent on Monday."


def test_customer_on_another_origin_and_agent_chat_both_ways_and_keep_history(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chromium() as browser:
        agent, agent_problems = open_page(browser)
        customer, problems = open_page(browser)
        log_in_agent(agent, daphne.url, "alice", PASSWORD)

        dialog = open_widget(customer, demo_site, "Acme")
        expect(dialog.get_by_text("End-to-end encrypted")).to_be_visible()
        start_chat(dialog, "Carla Customer", "carla@example.org", QUESTION)
        expect(dialog.locator("p.state")).to_contain_text("number 1 in the queue")

        offer = agent.locator("#offers li")
        expect(offer).to_contain_text("Support")
        offer.get_by_role("button", name="Accept").click()
        expect(agent.locator("#messages")).to_contain_text(QUESTION)
        expect(agent.locator("#messages")).to_contain_text("Carla Customer <carla@example.org>")
        expect(agent.get_by_text("End-to-end encrypted")).to_be_visible()
        fingerprint = agent.locator("#customer-fingerprint").inner_text()
        assert re.fullmatch(r"([0-9A-F]{4} ){7}[0-9A-F]{4}", fingerprint)
        expect(dialog).to_contain_text("Alice joined the chat.")
        expect(dialog.locator("p.state")).to_have_text("You are chatting with Alice.")
        expect(dialog.locator("details.fingerprint code.own-key")).to_have_text(fingerprint)
        safety = agent.locator("#safety-number").inner_text()
        assert re.fullmatch(r"(\d{5} ){11}\d{5}", safety)
        expect(dialog.locator("details.fingerprint code.safety")).to_have_text(safety)

        agent_says(agent, REPLY)
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text(REPLY)
        customer_says(dialog, ANSWER)
        expect(agent.locator("#messages")).to_contain_text(ANSWER)

        # Both reload: the history comes back from the server and is decrypted again.
        agent.reload()
        expect(agent.locator("#messages")).to_contain_text(ANSWER)
        expect(agent.locator("#messages")).to_contain_text(QUESTION)
        customer.reload()
        dialog = customer.locator("#sealdesk-widget").get_by_role("dialog", name="Chat with Acme")
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text(REPLY)
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text(QUESTION)
        expect(dialog.locator(".warning")).to_have_count(0)
        expect(agent.locator("#messages .warning")).to_have_count(0)

        assert csp_violations(customer) == []
        assert csp_violations(agent) == []
        assert problems.errors == []
        assert agent_problems.errors == []

    stored = stored_text()
    for secret in ("Carla Customer", "carla@example.org", QUESTION, REPLY, ANSWER, "parcel 4711"):
        assert secret not in stored, secret


def test_keyboard_only_customer_and_agent_wrap_up_then_a_new_conversation(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chromium() as browser:
        agent, agent_problems = open_page(browser)
        customer, problems = open_page(browser)
        log_in_agent(agent, daphne.url, "alice", PASSWORD)

        customer.goto(demo_site)
        customer.keyboard.press("Tab")  # the launcher is the page's only control
        customer.keyboard.press("Enter")
        widget = customer.locator("#sealdesk-widget")
        dialog = widget.get_by_role("dialog", name="Chat with Acme")
        expect(dialog.get_by_label("Name")).to_be_focused()
        customer.keyboard.type("Kim Keyboard")
        customer.keyboard.press("Tab")
        customer.keyboard.press("Tab")
        customer.keyboard.type("Can I change my delivery address?")
        customer.keyboard.press("Tab")
        customer.keyboard.press("Enter")
        log = dialog.get_by_role("log", name="Messages")
        expect(log).to_contain_text("Can I change my delivery address?")

        accept_offer(agent, "delivery address")
        expect(agent.locator("#conversations")).to_contain_text("Kim Keyboard · Support")
        customer.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        agent.get_by_label("Your reply").fill("Yes: which address?")
        agent.get_by_label("Your reply").press("Enter")
        widget.get_by_role("button", name="Chat with us").press("Enter")
        expect(log).to_contain_text("Yes: which address?")

        agent.get_by_label("Wrap-up").select_option("resolved")
        agent.get_by_role("button", name="Close conversation").click()
        expect(agent.get_by_text("No active conversations.")).to_be_visible()
        expect(dialog.locator("p.state")).to_have_text("This conversation has ended.")
        expect(dialog.get_by_label("Your message")).to_be_hidden()

        dialog.get_by_role("button", name="Start a new conversation").click()
        expect(dialog.get_by_role("button", name="Start chat")).to_be_visible()
        assert csp_violations(customer) == []
        assert problems.errors == []
        assert agent_problems.errors == []
    closed = Conversation.objects.get()
    assert closed.state == Conversation.State.CLOSED
    assert closed.disposition == "resolved"


def test_messages_typed_while_the_server_is_down_are_sent_when_it_is_back(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chat_in_chromium(
        daphne.url, demo_site, "Olga Offline", "Will my message survive?"
    ) as chat:
        agent, agent_problems = chat.agent, chat.agent_problems
        customer, problems, dialog = chat.customer, chat.problems, chat.dialog

        daphne.stop()
        expect(dialog.locator(".status")).to_have_text("Offline: reconnecting…")
        expect(agent.locator("#connection")).to_have_text("Offline: reconnecting…")
        customer_says(dialog, "Typed while the server was down")
        expect(dialog.get_by_role("log", name="Messages")).to_contain_text(
            "Typed while the server was down (sending…)"
        )
        daphne.start()

        expect(dialog.locator(".status")).to_have_text("Connected", timeout=20_000)
        expect(agent.locator("#messages")).to_contain_text(
            "Typed while the server was down", timeout=20_000
        )
        expect(dialog.get_by_role("log", name="Messages")).not_to_contain_text("sending…")
        expect(agent.locator("#messages .message")).to_have_count(2)
        # While the server was down the browsers logged failed connections; nothing else.
        unexpected = [
            e for e in problems.errors + agent_problems.errors if "WebSocket connection" not in e
        ]
        assert unexpected == []
        assert csp_violations(customer) == []


def test_dashboard_counts_unread_messages_of_the_conversations_not_in_view(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chromium() as browser:
        agent, agent_problems = open_page(browser)
        agent.context.grant_permissions(["notifications"])
        log_in_agent(agent, daphne.url, "alice", PASSWORD)
        dialogs = []
        for name in ("Ann", "Ben"):
            page = open_page(browser)[0]
            dialog = open_widget(page, demo_site, "Acme")
            start_chat(dialog, name, "", f"Question from {name}")
            agent.locator("#offers li").get_by_role("button", name="Accept").click()
            expect(agent.locator("#conversations")).to_contain_text(f"{name} · Support")
            dialogs.append(dialog)
        ann = agent.locator("#conversations li", has_text="Ann")
        ben = agent.locator("#conversations li", has_text="Ben")
        expect(ben).to_have_attribute("aria-current", "true")  # the newest accepted is shown

        customer_says(dialogs[0], "Are you there?")
        customer_says(dialogs[0], "Hello?")
        expect(ann.locator(".unread")).to_have_text("2")
        expect(ben.locator(".unread")).to_have_text("")

        ann.get_by_role("button").click()
        expect(agent.locator("#messages")).to_contain_text("Hello?")
        expect(ann.locator(".unread")).to_have_text("")
        assert agent_problems.errors == []


def test_two_tabs_of_one_agent_take_turns_without_clashing_sender_numbers(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    """Both tabs are the same device, with the same keys: each message needs the device's next
    sender number, which the tabs share under a Web Lock."""
    with chat_in_chromium(daphne.url, demo_site, "Tia", "Two tabs at once?") as chat:
        first, problems = chat.agent, chat.agent_problems
        second = problems.watch(first.context.new_page())
        second.goto(f"{daphne.url}/dashboard/")
        expect(second.locator("#messages")).to_contain_text("Two tabs at once?")
        sent = []
        for n in range(5):
            # Both tabs press Send in the same millisecond, before either can see the other's.
            at = first.evaluate("Date.now()") + 300
            for tab, name in ((first, "first"), (second, "second")):
                text = f"From the {name} tab, number {n}"
                tab.get_by_label("Your reply").fill(text)
                tab.evaluate(
                    """(at) => setTimeout(
                        () => document.querySelector("#composer button[type=submit]").click(),
                        at - Date.now())""",
                    at,
                )
                sent.append(text)
            time.sleep(0.5)
        log = chat.dialog.get_by_role("log", name="Messages")
        for text in sent:
            expect(log).to_contain_text(text)
            expect(first.locator("#messages")).to_contain_text(text)
            expect(second.locator("#messages")).to_contain_text(text)
        expect(first.get_by_text("A message was not sent")).to_have_count(0)
        expect(second.get_by_text("A message was not sent")).to_have_count(0)
        assert problems.errors == []
        assert chat.problems.errors == []
