"""Staff notes as the server stores them (docs/PROTOCOL.md, "Staff-only messages"): Alice and
Bob (Acme's agents, in one chat) share a staff key and notes the server keeps as ciphertext it
cannot read; Carla, the customer, can neither send one nor be handed a staff key; Otto (of
Globex) reaches none of it. Who reads what is the members' browsers' business
(tests/js/staff-notes.test.mjs); tests/test_transfer_browser.py plays it in Chromium.
"""

import json
from typing import Any

import pytest

from chat.actions import devices, messages, offers
from chat.models import Event
from sealdesk_client import protocol
from tests.factories import Staff, b64
from tests.test_invitations import Desk, refusal

pytestmark = pytest.mark.django_db

NOTE = "She was double-charged; refund approved."
SENT_AT = "2026-12-01T09:00:00Z"


class Notes(Desk):
    """The Desk of tests/test_invitations.py with Bob in the chat too, and Carla's keys kept."""

    def __init__(self, staff: Staff) -> None:
        super().__init__(staff)
        offers.do_accept_offer(self.bob, self.bob_device, self.invite("conference").pk)
        self.tenant, self.id = staff.tenant.widget_id, str(self.conversation.id)
        self.staff_key = protocol.new_epoch_key()

    def staff_wrap(self, wrapper: protocol.DeviceKeys, recipient: Any) -> dict[str, Any]:
        member = recipient.member("agent")
        made = protocol.wrap_key(
            wrapper, member, self.tenant, self.id, 0, self.staff_key, staff=True
        )
        return made.to_json()

    def note(self, keys: protocol.DeviceKeys, seq: int = 1, body: str = NOTE) -> dict[str, Any]:
        envelope = protocol.encrypt_message(
            keys, self.tenant, self.id, self.epoch, self.staff_key, seq,
            {"type": "note", "body": body, "sent_at": SENT_AT},
            after=protocol.head_after(self.tenant, self.id, [self.epoch]), staff=True,
        )  # fmt: skip
        return envelope.to_json()


def test_alice_shares_a_staff_key_with_bob_and_writes_a_note_the_server_cannot_read(
    acme: Staff,
) -> None:
    desk = Notes(acme)
    wraps = [desk.staff_wrap(desk.alice_keys, k) for k in (desk.alice_keys, desk.bob_keys)]
    share = messages.do_share_history(desk.conversation, desk.alice_device, wraps)
    assert [w["scope"] for w in share.body["wraps"]] == ["staff", "staff"]
    stored = messages.do_send_message(
        desk.conversation, desk.alice_device, desk.note(desk.alice_keys)
    )
    assert stored.body["scope"] == "staff"
    # Bob reads it with the staff key his wrap carries; the server's rows hold no word of it.
    bob_wrap = protocol.Wrap.from_json(wraps[1])
    key = protocol.unwrap_key(
        desk.bob_keys, desk.alice_keys.member("agent"), desk.tenant, desk.id, bob_wrap
    )
    assert key == desk.staff_key
    rows = json.dumps(list(Event.objects.filter(conversation=desk.conversation).values("body")))
    assert "double-charged" not in rows and NOTE not in rows


def test_carla_cannot_send_a_note_nor_take_or_give_a_staff_key(acme: Staff) -> None:
    desk = Notes(acme)
    carla = desk.conversation.customer_device
    customer_keys = desk.customer_keys
    before = Event.objects.count()
    assert (
        refusal(
            lambda: messages.do_send_message(desk.conversation, carla, desk.note(customer_keys))
        )
        == "not_staff"
    )
    to_carla = [desk.staff_wrap(desk.alice_keys, customer_keys)]
    assert (
        refusal(lambda: messages.do_share_history(desk.conversation, desk.alice_device, to_carla))
        == "not_staff"
    )
    from_carla = [desk.staff_wrap(customer_keys, desk.bob_keys)]
    assert (
        refusal(lambda: messages.do_share_history(desk.conversation, carla, from_carla))
        == "not_staff"
    )
    assert Event.objects.count() == before


def test_a_note_with_its_scope_dropped_is_not_stored_as_a_message(acme: Staff) -> None:
    desk = Notes(acme)
    unscoped = {k: v for k, v in desk.note(desk.alice_keys).items() if k != "scope"}
    assert (
        refusal(lambda: messages.do_send_message(desk.conversation, desk.alice_device, unscoped))
        == "bad_signature"
    )
    odd = {**desk.note(desk.alice_keys), "scope": "customer"}
    assert (
        refusal(lambda: messages.do_send_message(desk.conversation, desk.alice_device, odd))
        == "malformed_envelope"
    )


def test_otto_of_globex_reaches_no_note(acme: Staff, globex: Staff) -> None:
    desk = Notes(acme)
    otto_keys = protocol.generate_device()
    otto_device = devices.do_register_agent_device(
        globex.agent, b64(otto_keys.sign_public), b64(otto_keys.box_public), "Otto's browser"
    )
    note = desk.note(otto_keys)
    assert (
        refusal(lambda: messages.do_send_message(desk.conversation, otto_device, note))
        == "not_a_participant"
    )
    share = [desk.staff_wrap(otto_keys, desk.bob_keys)]
    assert (
        refusal(lambda: messages.do_share_history(desk.conversation, otto_device, share))
        == "not_a_participant"
    )


def test_a_staff_key_goes_to_no_device_outside_the_chat(acme: Staff) -> None:
    """A device the customer's browser made up and signed into an epoch as an agent, or a staff
    device that is not in the chat, gets no staff key from the server either."""
    desk = Notes(acme)
    made_up = protocol.generate_device()
    wraps = [desk.staff_wrap(desk.alice_keys, made_up)]
    assert refusal(
        lambda: messages.do_share_history(desk.conversation, desk.alice_device, wraps)
    ) == ("not_staff")
