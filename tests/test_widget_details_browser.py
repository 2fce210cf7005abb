"""The widget's details a customer meets (issue 13, part 3), in Chromium: Carla pastes 20,000
characters and is told, in a plain sentence, that it is too long, and nothing is cut or sent (as
in Alice's reply box); a long message that fits goes whole, with a count before the limit; "End
chat" asks first, keeps the chat when she changes her mind, and once she ends it her focus stays
in the chat, on the rating, and Alice reads that Carla ended it."""

import pytest
from playwright.sync_api import expect

from tests.browser import chat_in_chromium, csp_violations
from tests.factories import Staff
from tests.live import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "Can I paste my whole order history here?"


def test_long_messages_are_told_not_cut_and_ending_the_chat_asks_first(
    acme: Staff, daphne: DaphneServer, demo_site: str
) -> None:
    with chat_in_chromium(daphne.url, demo_site, "Carla", QUESTION) as chat:
        dialog, alice = chat.dialog, chat.agent
        box = dialog.get_by_label("Your message")
        count = dialog.locator("#sealdesk-length")

        # 20,000 characters: a plain sentence, Send does nothing, and the text stays whole.
        box.fill("o" * 20_000)
        expect(count).to_contain_text("characters too long to send in one go")
        expect(count).not_to_contain_text("malformed")
        dialog.get_by_role("button", name="Send").click()
        assert len(box.input_value()) == 20_000
        expect(dialog.locator(".message.me")).to_have_count(1)  # the pre-chat question only

        # 7,500 fit (8,000 is the most): a count shows how many more would, and it goes whole.
        box.fill("k" * 7_500)
        expect(count).to_contain_text("characters left.")
        dialog.get_by_role("button", name="Send").click()
        expect(box).to_have_value("")
        expect(count).to_be_hidden()
        mine = alice.locator("#messages li.them").last
        expect(mine).to_contain_text("k" * 100)
        assert mine.inner_text().count("k") == 7_500

        # Alice's reply box does the same: told, not cut, not sent.
        reply = alice.get_by_label("Your reply")
        reply.fill("r" * 9_000)
        expect(alice.locator("#composer-length")).to_contain_text(
            "This message is 1000 characters too long to send in one go"
        )
        alice.get_by_role("button", name="Send", exact=True).click()
        assert len(reply.input_value()) == 9_000
        reply.fill("")
        expect(alice.locator("#composer-length")).to_be_hidden()

        # "End chat" asks first; "Keep chatting" keeps it.
        dialog.get_by_role("button", name="End chat").click()
        ask = dialog.get_by_role("group", name="End this chat?")
        expect(ask).to_be_visible()
        expect(dialog.get_by_role("button", name="Keep chatting")).to_be_focused()
        dialog.get_by_role("button", name="Keep chatting").click()
        expect(ask).to_be_hidden()
        expect(dialog.locator("p.state")).to_contain_text("You are chatting with")

        # Ended: the chat says so, focus lands on the rating, and Alice reads who ended it.
        dialog.get_by_role("button", name="End chat").click()
        dialog.get_by_role("button", name="Yes, end the chat").click()
        expect(dialog.locator("p.state")).to_have_text("This conversation has ended.")
        expect(dialog.get_by_role("button", name="1", exact=True)).to_be_focused()
        expect(alice.locator("#messages")).to_contain_text("Carla ended the conversation.")

        assert csp_violations(chat.customer) == []
        assert chat.problems.errors == [] and chat.agent_problems.errors == []
