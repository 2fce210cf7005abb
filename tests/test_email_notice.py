"""The e-mail notice of a message left (chat/actions/notices.py): Carla leaves a message for Acme's
Support outside its hours and asks to be told by e-mail; Alice picks it up and answers; one mail
goes to Carla's address, saying only that a reply from Acme is waiting, and the address is
erased. A bad address is refused plainly and keeps nothing; Alice cannot set one, nor can a
customer whose chat is not a message left; a chat that closes unanswered forgets it. Otto of
Globex, the outsider, cannot set one on Acme's conversation and his chats send nothing.
"""

import json
import logging
import threading

import pytest
from channels.db import database_sync_to_async
from django.core import mail
from django.http import Http404

from agents import access
from agents.models import Device
from chat.actions import lifecycle, messages, notices, offline
from chat.errors import ChatError
from chat.models import Conversation, Event
from sealdesk_client import frames, protocol
from tests.factories import (
    Staff,
    b64,
    certified_device,
    device_for,
    start_with_keys,
    with_org_key,
)
from tests.sockets import open_widget_socket

SECRET = "my account number is 12345 and my name is Carla Customer"


class LeftMessage:
    """Carla's message left for Acme's Support, in her browser's epoch, which Alice's approved
    browser is addressed and can pick up."""

    def __init__(self, acme: Staff, language: str = "") -> None:
        with_org_key(acme)
        self.alice = acme.agent
        self.alice_keys, self.alice_device = certified_device(acme, self.alice)
        self.keys = protocol.generate_device()
        self.conversation, self.token = lifecycle.do_start_conversation(
            acme.tenant,
            acme.team,
            b64(self.keys.sign_public),
            b64(self.keys.box_public),
            "https://www.acme.example",
            language=language,
            pins=True,
            message=True,
        )
        self.customer = self.conversation.customer_device
        self.id = str(self.conversation.id)
        tenant = acme.tenant.widget_id
        # (Who the epoch names is the browsers' business, not the server's: the customer alone.)
        members = [self.keys.member("customer")]
        self.record = protocol.make_epoch(self.keys, tenant, self.id, None, members)
        self.key = protocol.new_epoch_key()
        wraps = [
            protocol.wrap_key(self.keys, member, tenant, self.id, 0, self.key).to_json()
            for member in members
        ]
        messages.do_add_epoch(self.conversation, self.customer, self.record.to_json(), wraps)
        self.write(self.keys, self.customer, 1, {"type": "text", "body": SECRET})

    def write(
        self, keys: protocol.DeviceKeys, device: Device, seq: int, content: dict[str, str]
    ) -> None:
        envelope = protocol.encrypt_message(
            keys,
            self.conversation.tenant.widget_id,
            self.id,
            self.record,
            self.key,
            seq,
            {**content, "sent_at": "2026-12-02T20:00:00Z"},
            after="0" * 128,
        )
        staff = device.pk != self.conversation.customer_device_id
        answer = staff and content["type"] == "text"  # as the dashboard says (chat.js, sendFrame)
        messages.do_send_message(self.conversation, device, envelope.to_json(), answer=answer)

    def answer(self) -> None:
        found = access.access_left_message(self.alice, self.id)
        offline.do_pick_up(self.alice, self.alice_device, found)
        self.write(self.alice_keys, self.alice_device, 1, {"type": "text", "body": "Hello!"})


def stored_address(conversation: Conversation) -> str:
    return Conversation.objects.values_list("notify_email", flat=True).get(pk=conversation.pk)


def sent_mail() -> list[mail.EmailMessage]:
    """Return the outbox once every notice thread has finished."""
    for thread in threading.enumerate():
        if thread.name == "sealdesk-notice":
            thread.join(timeout=10)
    return list(mail.outbox)


@pytest.mark.django_db(transaction=True)
def test_one_mail_says_only_that_a_reply_is_waiting_and_the_address_is_erased(
    acme: Staff,
) -> None:
    carla = LeftMessage(acme)
    notices.do_set_notice_email(carla.conversation, carla.customer, " carla@example.com ")
    assert stored_address(carla.conversation) == "carla@example.com"
    assert sent_mail() == []  # nothing before the answer
    # Alice's browser picks it up and says it has read it: a receipt is no answer.
    found = access.access_left_message(carla.alice, carla.id)
    offline.do_pick_up(carla.alice, carla.alice_device, found)
    carla.write(carla.alice_keys, carla.alice_device, 1, {"type": "receipt", "state": "read"})
    assert sent_mail() == [] and stored_address(carla.conversation) == "carla@example.com"
    carla.write(carla.alice_keys, carla.alice_device, 2, {"type": "text", "body": "Hello!"})
    [notice] = sent_mail()
    assert notice.to == ["carla@example.com"]
    assert "Acme" in notice.subject and "waiting" in notice.subject
    text = f"{notice.subject}\n{notice.body}"
    assert "Acme" in notice.body and "same browser" in notice.body
    for secret in (SECRET, "12345", "Carla", "Hello!", "http"):
        assert secret not in text
    assert stored_address(carla.conversation) == ""
    # Alice writes again: no second mail.
    carla.write(carla.alice_keys, carla.alice_device, 3, {"type": "text", "body": "Still there?"})
    assert len(sent_mail()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_mail_that_cannot_be_sent_is_logged_and_loses_no_message(
    acme: Staff, settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    carla = LeftMessage(acme)
    notices.do_set_notice_email(carla.conversation, carla.customer, "carla@example.com")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # type: ignore[attr-defined]
    settings.EMAIL_PORT = 1  # type: ignore[attr-defined]  # nothing listens there
    with caplog.at_level(logging.ERROR, logger="chat.actions.notices"):
        carla.answer()
        sent_mail()
    assert "could not be sent" in caplog.text and "carla@example.com" not in caplog.text
    answer = Event.objects.filter(conversation=carla.conversation, sender=carla.alice_device)
    assert answer.count() == 1  # the answer is stored all the same
    assert stored_address(carla.conversation) == ""


@pytest.mark.django_db
def test_a_bad_address_is_refused_plainly_and_kept_nowhere(acme: Staff) -> None:
    carla = LeftMessage(acme)
    for bad in ("carla", "carla@", "<carla@example.com>", "a" * 250 + "@example.com", 5):
        with pytest.raises(ChatError) as refused:
            notices.do_set_notice_email(carla.conversation, carla.customer, bad)
        assert refused.value.code == "invalid_email"
        assert "e-mail address" in refused.value.detail
    assert stored_address(carla.conversation) == ""
    notices.do_set_notice_email(carla.conversation, carla.customer, "carla@example.com")
    notices.do_set_notice_email(carla.conversation, carla.customer, None)  # she changed her mind
    assert stored_address(carla.conversation) == ""


@pytest.mark.django_db
def test_only_the_customer_of_an_unanswered_message_asks_for_a_notice(
    acme: Staff, globex: Staff
) -> None:
    carla = LeftMessage(acme)
    with pytest.raises(ChatError) as staff:
        notices.do_set_notice_email(carla.conversation, carla.alice_device, "alice@example.com")
    assert staff.value.code == "not_a_participant"
    _, waiting_chat, _ = start_with_keys(acme)
    with pytest.raises(ChatError) as queued:
        notices.do_set_notice_email(waiting_chat, waiting_chat.customer_device, "dan@example.com")
    assert queued.value.code == "notice_unavailable"
    # Otto of Globex finds no such message to answer, and no device of his takes part.
    otto_device = device_for(globex.agent)
    with pytest.raises(Http404):
        access.access_left_message(globex.agent, carla.id)
    with pytest.raises(ChatError) as outsider:
        notices.do_set_notice_email(carla.conversation, otto_device, "otto@example.com")
    assert outsider.value.code == "not_a_participant"
    assert stored_address(carla.conversation) == ""


@pytest.mark.django_db
def test_a_message_closed_unanswered_forgets_the_address(acme: Staff) -> None:
    carla = LeftMessage(acme)
    notices.do_set_notice_email(carla.conversation, carla.customer, "carla@example.com")
    lifecycle.do_close_conversation(carla.conversation, carla.customer)
    assert stored_address(carla.conversation) == ""
    with pytest.raises(ChatError) as closed:
        notices.do_set_notice_email(carla.conversation, carla.customer, "carla@example.com")
    assert closed.value.code == "notice_unavailable"
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
async def test_the_widget_sets_the_address_over_its_socket_and_hears_a_bad_one_refused(
    acme: Staff,
) -> None:
    carla = await database_sync_to_async(LeftMessage)(acme)
    socket, connected, _ = await open_widget_socket(
        acme.tenant.widget_id, "https://www.acme.example"
    )
    assert connected
    auth = {"type": frames.AUTH, "conversation": carla.id, "token": carla.token}
    await socket.send_to(text_data=json.dumps(auth))
    assert (await socket.receive_frame())["type"] == frames.HELLO
    bad = {"type": frames.NOTIFY, "conversation": carla.id, "email": "carla at home", "ref": 1}
    await socket.send_to(text_data=json.dumps(bad))
    refused = await socket.receive_frame()
    assert (refused["type"], refused["code"], refused["ref"]) == (frames.ERROR, "invalid_email", 1)
    good = {**bad, "email": "carla@example.com", "ref": 2}
    await socket.send_to(text_data=json.dumps(good))
    kept = await socket.receive_frame()
    assert (kept["type"], kept["notify"], kept["ref"]) == (frames.NOTIFY_SET, True, 2)
    assert await database_sync_to_async(stored_address)(carla.conversation) == "carla@example.com"
    await socket.disconnect()
