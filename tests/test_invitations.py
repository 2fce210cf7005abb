"""Asking a colleague into a chat, as the server records it: Alice (Acme's agent) asks Bob to
join (a conference) or to take over (a warm transfer), then leaves; Sam's, Ada's and Otto's (of
Globex) parts are refusals. Who can read is the members' browsers' business (static/sealdesk/
chat.js, tests/js/malicious-server.test.mjs); tests/test_transfer_browser.py plays it in Chromium.
"""

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse

from agents.models import Agent, Device
from chat.actions import invitations, messages, offers, presence
from chat.builtin_router import BuiltinRouter
from chat.errors import ChatError
from chat.models import Conversation, Event, Offer, Participant
from sealdesk_client import frames, protocol
from tests.factories import (
    PASSWORD,
    Staff,
    certified_device,
    make_agent,
    pending,
    start,
    start_with_keys,
    with_org_key,
)
from tests.sockets import open_agent_socket

pytestmark = pytest.mark.django_db


class Desk:
    """Acme with an organisation key: Alice has taken a chat; Bob, an agent of the same team, is
    available on an approved browser."""

    def __init__(self, staff: Staff) -> None:
        with_org_key(staff)
        self.staff = staff
        self.alice = staff.agent
        self.bob = make_agent(staff.tenant, "bob", teams=(staff.team,))
        self.alice_keys, self.alice_device = certified_device(staff, self.alice)
        self.bob_keys, self.bob_device = certified_device(staff, self.bob)
        presence.do_set_presence(self.alice, Agent.Presence.AVAILABLE)
        customer, self.conversation, _ = start_with_keys(staff)
        self.customer_keys = customer
        # Epoch 0, which the customer's browser makes: what the agents sign their leaves in.
        tenant, conversation = staff.tenant.widget_id, str(self.conversation.id)
        me = customer.member("customer")
        self.epoch = protocol.make_epoch(customer, tenant, conversation, None, [me])
        self.key = protocol.new_epoch_key()
        wrap = protocol.wrap_key(customer, me, tenant, conversation, 0, self.key)
        messages.do_add_epoch(
            self.conversation, self.conversation.customer_device, self.epoch.to_json(),
            [wrap.to_json()],
        )  # fmt: skip
        BuiltinRouter(staff.tenant).dispatch(staff.team)
        offer = pending(self.conversation)
        assert offer is not None and offer.agent == self.alice
        offers.do_accept_offer(self.alice, self.alice_device, offer.pk)
        presence.do_set_presence(self.bob, Agent.Presence.AVAILABLE)

    def invite(self, purpose: str = "transfer", invitee: Agent | None = None) -> Offer:
        return invitations.do_invite(
            self.alice, self.alice_device, self.conversation, invitee or self.bob, purpose
        )

    def leave_of(self, keys: protocol.DeviceKeys, seq: int = 1) -> dict[str, Any]:
        """Return the signed leave of the device with KEYS (its message number SEQ)."""
        tenant, conversation = self.staff.tenant.widget_id, str(self.conversation.id)
        envelope = protocol.encrypt_message(
            keys, tenant, conversation, self.epoch, self.key, seq,
            {"type": "leave", "sent_at": "2026-12-01T09:00:00Z"},
            after=protocol.head_after(tenant, conversation, [self.epoch]),
        )  # fmt: skip
        return envelope.to_json()

    def leave(self, agent: Agent, device: Device, keys: protocol.DeviceKeys) -> None:
        invitations.do_leave(agent, device, self.conversation, self.leave_of(keys))

    def in_chat(self) -> list[str]:
        seats = self.conversation.participants.filter(left_at__isnull=True, agent__isnull=False)
        return sorted(seat.agent.display_name for seat in seats if seat.agent)


def refusal(action: Any) -> str:
    with pytest.raises(ChatError) as refused:
        action()
    return refused.value.code


def test_alice_hands_the_chat_to_bob_who_accepts_and_she_leaves(acme: Staff) -> None:
    desk = Desk(acme)
    offer = desk.invite("transfer")
    assert (offer.kind, offer.purpose, offer.invited_by, offer.agent) == (
        Offer.Kind.JOIN,
        Offer.Purpose.TRANSFER,
        desk.alice,
        desk.bob,
    )
    offers.do_accept_offer(desk.bob, desk.bob_device, offer.pk)
    assert desk.in_chat() == ["Alice", "Bob"]
    joined = Event.objects.filter(conversation=desk.conversation, kind=Event.Kind.JOINED).last()
    assert joined is not None and joined.body["device"]["id"] == desk.bob_device.pk
    assert joined.body["device"]["cert"] == desk.bob_device.cert  # for browsers to check

    desk.leave(desk.alice, desk.alice_device, desk.alice_keys)
    assert desk.in_chat() == ["Bob"]
    left = Event.objects.filter(conversation=desk.conversation, kind=Event.Kind.LEFT).get()
    assert left.body == {"device": desk.alice_device.pk, "reason": "left"}
    desk.conversation.refresh_from_db()
    assert desk.conversation.state == Conversation.State.ACTIVE
    # Alice's chat slot is free again, and her device may no longer send in the chat.
    assert refusal(lambda: desk.invite("conference", desk.bob)) == "not_a_participant"


def test_a_conference_keeps_both_and_either_may_leave_but_not_the_last(acme: Staff) -> None:
    desk = Desk(acme)
    offers.do_accept_offer(desk.bob, desk.bob_device, desk.invite("conference").pk)
    assert desk.in_chat() == ["Alice", "Bob"]
    desk.leave(desk.bob, desk.bob_device, desk.bob_keys)
    assert desk.in_chat() == ["Alice"]
    assert (
        refusal(lambda: desk.leave(desk.alice, desk.alice_device, desk.alice_keys)) == "last_agent"
    )
    assert desk.in_chat() == ["Alice"]
    # The refused leave took its signed message with it: members never see Alice leave.
    stored = Event.objects.filter(sender=desk.alice_device, kind=Event.Kind.MESSAGE)
    assert not stored.exists()


def test_bob_declining_or_not_answering_leaves_the_chat_with_alice(acme: Staff) -> None:
    desk = Desk(acme)
    offers.do_decline_offer(desk.bob, desk.invite().pk)
    offer = desk.invite()
    Offer.objects.filter(pk=offer.pk).update(expires_at=offer.created_at)
    assert offers.do_expire_offers() == 1
    assert desk.in_chat() == ["Alice"]
    states = list(
        Offer.objects.filter(purpose=Offer.Purpose.TRANSFER)
        .order_by("pk")
        .values_list("state", flat=True)
    )
    assert states == [Offer.State.DECLINED, Offer.State.EXPIRED]


def test_asking_someone_who_cannot_come_is_refused_and_changes_nothing(
    acme: Staff, globex: Staff
) -> None:
    desk = Desk(acme)
    carol = make_agent(acme.tenant, "carol", teams=(acme.team,))
    presence.do_set_presence(carol, Agent.Presence.AVAILABLE)  # no approved browser
    dave = make_agent(acme.tenant, "dave", teams=(acme.team,))
    certified_device(acme, dave)  # approved, but away
    otto = globex.agent
    cases = {
        "device_not_certified": lambda: desk.invite(invitee=carol),
        "agent_unavailable": lambda: desk.invite(invitee=dave),
        "unknown_agent": lambda: desk.invite(invitee=otto),
        "already_in_conversation": lambda: desk.invite(invitee=desk.alice),
        "invalid_purpose": lambda: desk.invite("supervise"),
    }
    for code, action in cases.items():
        assert refusal(action) == code, code
    assert not Offer.objects.filter(kind=Offer.Kind.JOIN).exists()
    desk.invite()
    assert refusal(desk.invite) == "already_invited"
    # Bob at his maximum of one chat: an open offer of another counts, as for routing.
    Offer.objects.filter(kind=Offer.Kind.JOIN).delete()
    Agent.objects.filter(pk=desk.bob.pk).update(max_concurrent_chats=1)
    assert offers.do_offer(start(acme), desk.bob) is not None
    assert refusal(desk.invite) == "agent_unavailable"
    assert desk.in_chat() == ["Alice"]


def test_without_an_organisation_key_nobody_is_asked_in(acme: Staff) -> None:
    bob = make_agent(acme.tenant, "bob", teams=(acme.team,))
    for agent in (acme.agent, bob):
        presence.do_set_presence(agent, Agent.Presence.AVAILABLE)
    alice_device = Device.objects.create(
        id="a" * 32, tenant=acme.tenant, kind=Device.Kind.AGENT, agent=acme.agent,
        sign_public="A" * 43 + "=", box_public="B" * 43 + "=",
    )  # fmt: skip
    conversation = start(acme)
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    offer = pending(conversation)
    assert offer is not None
    offers.do_accept_offer(acme.agent, alice_device, offer.pk)
    refused = refusal(
        lambda: invitations.do_invite(acme.agent, alice_device, conversation, bob, "transfer")
    )
    assert refused == "no_org_key"


def test_a_queued_chat_or_someone_elses_cannot_be_handed_on(acme: Staff) -> None:
    desk = Desk(acme)
    waiting = start(acme)
    refused = refusal(
        lambda: invitations.do_invite(desk.alice, desk.alice_device, waiting, desk.bob, "transfer")
    )
    assert refused == "not_a_participant"
    # Bob, not in Alice's chat, cannot ask anyone into it.
    refused = refusal(
        lambda: invitations.do_invite(
            desk.bob, desk.bob_device, desk.conversation, desk.alice, "conference"
        )
    )
    assert refused == "not_a_participant"


def test_the_colleagues_list_says_who_could_take_a_chat_now(acme: Staff, globex: Staff) -> None:
    desk = Desk(acme)
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    listed = client.get(reverse("colleagues"), HTTP_ACCEPT="application/json").json()
    rows = {c["display_name"]: c for c in listed["colleagues"]}
    assert set(rows) == {"Ada", "Sam", "Bob"}  # not Alice herself, nobody of Globex
    assert rows["Bob"]["can_join"] is True
    assert rows["Sam"]["can_join"] is False
    assert rows["Bob"]["teams"] == ["Support"]
    assert Client().get(reverse("colleagues")).status_code == 302  # log in first
    assert desk.in_chat() == ["Alice"]


@pytest.mark.django_db(transaction=True)
async def test_alices_dashboard_hears_how_her_invitation_went(acme: Staff) -> None:
    desk = await database_sync_to_async(Desk)(acme)
    alice, connected, _ = await open_agent_socket(desk.alice.user, desk.alice_device.pk)
    assert connected
    hello = await alice.receive_frame()
    assert hello["invitations"] == []
    await alice.send_json_to(
        {"type": frames.INVITE, "conversation": str(desk.conversation.id), "agent": desk.bob.pk,
         "purpose": "transfer", "ref": 1}
    )  # fmt: skip
    asked = await alice.receive_frame()
    assert asked["type"] == frames.INVITATION and asked["ref"] == 1
    assert asked["invitation"]["agent"]["display_name"] == "Bob"
    assert asked["invitation"]["state"] == "pending"
    offer_id = asked["invitation"]["offer"]
    await database_sync_to_async(offers.do_accept_offer)(desk.bob, desk.bob_device, offer_id)
    # Every tab of Alice's hears: the invitation made (besides the answer to this one), taken.
    told = [await alice.receive_frame() for _ in range(3)]
    states = [f["invitation"]["state"] for f in told if f["type"] == frames.INVITATION]
    assert states == ["pending", "accepted"]
    await alice.disconnect()

    # After a reload, Alice's dashboard learns that a hand-over waits for her to leave.
    alice, connected, _ = await open_agent_socket(desk.alice.user, desk.alice_device.pk)
    hello = await alice.receive_frame()
    assert [i["offer"] for i in hello["invitations"]] == [offer_id]
    await alice.send_json_to(
        {
            "type": frames.LEAVE,
            "conversation": str(desk.conversation.id),
            "ref": 2,
            "envelope": desk.leave_of(desk.alice_keys),
        }
    )
    replies = [await alice.receive_frame() for _ in range(2)]
    assert {f["type"] for f in replies} == {frames.LEFT, frames.EVENT}
    assert next(f for f in replies if f["type"] == frames.LEFT)["ref"] in (2, None)
    await alice.disconnect()
    alice, connected, _ = await open_agent_socket(desk.alice.user, desk.alice_device.pk)
    hello = await alice.receive_frame()
    assert hello["invitations"] == [] and hello["conversations"] == []
    await alice.disconnect()
    bob_seats = await database_sync_to_async(
        lambda: Participant.objects.filter(agent=desk.bob, left_at__isnull=True).count()
    )()
    assert bob_seats == 1


@pytest.mark.django_db(transaction=True)
async def test_bad_invite_and_leave_frames_get_clear_errors(acme: Staff) -> None:
    desk = await database_sync_to_async(Desk)(acme)
    alice, connected, _ = await open_agent_socket(desk.alice.user, desk.alice_device.pk)
    assert connected
    await alice.receive_frame()
    ask = {"type": frames.INVITE, "conversation": str(desk.conversation.id)}
    leave = {"type": frames.LEAVE, "conversation": str(desk.conversation.id)}
    for frame, code in (
        ({**ask, "agent": 99999, "purpose": "transfer"}, "unknown_agent"),
        ({**ask, "agent": "x", "purpose": "transfer"}, "unknown_agent"),
        ({**ask, "agent": desk.bob.pk}, "malformed_frame"),
        ({**leave, "envelope": desk.leave_of(desk.alice_keys)}, "last_agent"),
        ({**leave, "envelope": {"seq": 1}}, "malformed_envelope"),
        (leave, "malformed_frame"),
    ):
        await alice.send_json_to(frame)
        reply = await alice.receive_frame()
        assert (reply["type"], reply["code"]) == (frames.ERROR, code), json.dumps(frame)
    await alice.disconnect()
    assert await database_sync_to_async(desk.in_chat)() == ["Alice"]
