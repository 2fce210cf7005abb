"""The comment on a rating (chat/actions/satisfaction.py): Carla ends her chat with Acme, rates it
4, and adds a comment her browser sealed under the chat's latest epoch; the server stores it as one
more message, once, and only after the score; its words are nowhere in what the server keeps.
Alice, the agent, cannot comment in Carla's name, and Otto of Globex cannot comment on it.
tests/js/rating-comment.test.mjs shows that the people in the chat read it and a device the server
holds does not.
"""

import json

import nacl.secret
import pytest

from chat.actions import lifecycle, messages, satisfaction
from chat.errors import ChatError
from chat.models import Conversation, Event
from sealdesk_client import protocol
from tests.factories import Staff, device_for, start_with_keys

pytestmark = pytest.mark.django_db

COMMENT = "Alice was quick, but the parcel is still lost"


class Carla:
    """Carla's chat with Acme, keyed in her browser's epoch 0."""

    def __init__(self, acme: Staff) -> None:
        self.keys, self.conversation, _ = start_with_keys(acme)
        self.device = self.conversation.customer_device
        self.id = str(self.conversation.id)
        self.tenant = acme.tenant.widget_id
        me = self.keys.member("customer")
        self.record = protocol.make_epoch(self.keys, self.tenant, self.id, None, [me])
        self.key = protocol.new_epoch_key()
        wrap = protocol.wrap_key(self.keys, me, self.tenant, self.id, 0, self.key)
        messages.do_add_epoch(
            self.conversation, self.device, self.record.to_json(), [wrap.to_json()]
        )
        self.seq = 0

    def sealed(self, content: dict[str, str]) -> dict[str, object]:
        self.seq += 1
        envelope = protocol.encrypt_message(
            self.keys,
            self.tenant,
            self.id,
            self.record,
            self.key,
            self.seq,
            {**content, "sent_at": "2026-12-02T20:00:00Z"},
            after="0" * 128,
        )
        return envelope.to_json()

    def comment(self, body: str = COMMENT) -> dict[str, object]:
        return self.sealed({"type": "rating_comment", "body": body})

    def end(self) -> None:
        lifecycle.do_close_conversation(self.conversation, self.device)


def test_the_comment_is_stored_once_after_the_score_and_the_server_keeps_no_word(
    acme: Staff,
) -> None:
    carla = Carla(acme)
    carla.end()
    comment = carla.comment()
    with pytest.raises(ChatError) as unrated:
        satisfaction.do_comment_rating(carla.conversation, carla.device, comment)
    assert unrated.value.code == "not_rated"
    satisfaction.do_rate_conversation(carla.conversation, carla.device, 4)
    stored = satisfaction.do_comment_rating(carla.conversation, carla.device, comment)
    assert (stored.kind, stored.sender_id) == (Event.Kind.MESSAGE, carla.device.pk)
    # The same envelope again (a lost answer) is the same message; another is refused.
    again = satisfaction.do_comment_rating(carla.conversation, carla.device, comment)
    assert again.pk == stored.pk
    with pytest.raises(ChatError) as second:
        satisfaction.do_comment_rating(carla.conversation, carla.device, carla.comment("More"))
    assert second.value.code == "already_commented"
    kept = [str(e.body) for e in Event.objects.filter(conversation=carla.conversation)]
    row = Conversation.objects.filter(pk=carla.conversation.pk).values().get()
    assert not any("parcel" in text for text in [*kept, str(row)])
    assert row["satisfaction"] == 4  # the score alone is in clear
    # Its members open it with the epoch key; the server holds none.
    envelope = protocol.Envelope.from_json(stored.body)
    padded = nacl.secret.SecretBox(carla.key).decrypt(envelope.ct, envelope.nonce)
    opened = json.loads(protocol.unpad(padded))
    assert opened["type"] == "rating_comment" and opened["body"] == COMMENT


def test_no_comment_before_the_end_nor_from_anyone_but_the_customer(
    acme: Staff, globex: Staff
) -> None:
    carla = Carla(acme)
    with pytest.raises(ChatError) as open_chat:
        satisfaction.do_comment_rating(carla.conversation, carla.device, carla.comment())
    assert open_chat.value.code == "not_closed"
    carla.end()
    satisfaction.do_rate_conversation(carla.conversation, carla.device, 2)
    for outsider in (device_for(acme.agent), device_for(globex.agent)):
        with pytest.raises(ChatError) as refused:
            satisfaction.do_comment_rating(carla.conversation, outsider, carla.comment())
        assert refused.value.code == "not_a_participant"
    with pytest.raises(ChatError) as malformed:
        satisfaction.do_comment_rating(carla.conversation, carla.device, {"ct": COMMENT})
    assert malformed.value.code == "malformed_envelope"
    assert not Event.objects.filter(
        conversation=carla.conversation, kind=Event.Kind.MESSAGE
    ).exists()
