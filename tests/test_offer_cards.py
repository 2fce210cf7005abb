"""What an offer card can say before the chat is accepted (issue 12, part 5): its team, since
when the customer waits, and whether the customer's browser sent its pre-chat form, which stays
encrypted: the offer carries no word of it. An offer made before the form arrived is told again
once it has; Globex's Otto, the outsider, is told nothing."""

from typing import Any

import pytest

from chat.actions import messages, offers
from chat.builtin_router import BuiltinRouter
from chat.payloads import offer_payload
from sealdesk_client import protocol
from sealdesk_client.frames import OFFER
from tests.factories import Staff, available, pending, start_with_keys

pytestmark = pytest.mark.django_db


def test_an_offer_says_when_the_encrypted_pre_chat_arrived_and_is_told_again_then(
    acme: Staff, globex: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    available(acme.agent, globex.agent)
    keys, conversation, _ = start_with_keys(acme)
    tenant, cid = acme.tenant.widget_id, str(conversation.id)
    epoch = protocol.make_epoch(keys, tenant, cid, None, [keys.member("customer")])
    key = protocol.new_epoch_key()
    wrap = protocol.wrap_key(keys, keys.member("customer"), tenant, cid, 0, key)
    messages.do_add_epoch(
        conversation, conversation.customer_device, epoch.to_json(), [wrap.to_json()]
    )
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    offer = pending(conversation)
    assert offer is not None and offer.agent == acme.agent
    said = offer_payload(offer)
    assert (said["team"], said["prechat"]) == ("Support", False)
    assert said["waiting_since"] == conversation.created_at.isoformat()

    told: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(offers, "send_on_commit", lambda group, event: told.append((group, event)))

    def customer_sends(seq: int, plaintext: dict[str, Any]) -> None:
        after = protocol.head_after(tenant, cid, [epoch])
        envelope = protocol.encrypt_message(
            keys, tenant, cid, epoch, key, seq, plaintext, after=after
        )
        messages.do_send_message(conversation, conversation.customer_device, envelope.to_json())

    form = {
        "name": "Carla",
        "email": "",
        "question": "Where is it?",
        "sent_at": "2026-12-02T08:00:00Z",
    }
    customer_sends(1, {"type": "prechat", **form})
    assert [(group, event["type"]) for group, event in told] == [(f"agent.{acme.agent.pk}", OFFER)]
    retold = told[0][1]["offer"]
    assert (retold["id"], retold["prechat"]) == (offer.pk, True)
    assert "Carla" not in repr(retold) and "Where is it?" not in repr(retold)

    # The customer's later messages change nothing an offer says: it is not told again.
    customer_sends(2, {"type": "text", "body": "Hello?", "sent_at": "2026-12-02T08:01:00Z"})
    assert len(told) == 1
