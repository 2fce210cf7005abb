"""Sending a chat back to a queue, as the server records it: Alice (Acme's agent in Support) sends
Carla's chat to the Billing queue, where Bob takes it ahead of an older chat, or parks it until
Carla writes again and takes it back first; parked chats resume and expire on time. Refusals
change nothing; Otto's team (Globex) is nobody's to send to. Who reads is the members' browsers'
business (tests/js/requeue.test.mjs); tests/test_requeue_browser.py plays it in Chromium.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from agents.models import Agent, Team, Tenant
from chat.actions import lifecycle, messages, offers, presence, requeue
from chat.builtin_router import BuiltinRouter
from chat.models import Conversation, Event, Offer
from sealdesk_client import protocol
from tests.factories import Staff, certified_device, make_agent, pending, start
from tests.test_invitations import Desk, refusal

pytestmark = pytest.mark.django_db

SENT_AT = "2026-12-01T09:00:00Z"


class Floor(Desk):
    """The Desk of tests/test_invitations.py (Alice has taken Carla's chat, whose widget pins
    Acme's organisation key), with Billing: a team where Bob and Dave work."""

    def __init__(self, staff: Staff, pins: bool = True) -> None:
        super().__init__(staff)
        Conversation.objects.filter(pk=self.conversation.pk).update(customer_pins=pins)
        self.billing = Team.objects.create(tenant=staff.tenant, name="Billing")
        self.bob.teams.set([self.billing])
        self.dave = make_agent(staff.tenant, "dave", teams=(self.billing,))
        self.dave_keys, self.dave_device = certified_device(staff, self.dave)
        self.alice_seq = 0

    def leave_envelope(self) -> dict[str, Any]:
        self.alice_seq += 1
        return self.leave_of(self.alice_keys, self.alice_seq)

    def transfer(self, team: Team) -> Conversation:
        return requeue.do_transfer_to_queue(
            self.alice, self.alice_device, self.conversation, team, self.leave_envelope()
        )

    def park(self) -> Conversation:
        return requeue.do_park(
            self.alice, self.alice_device, self.conversation, self.leave_envelope()
        )

    def carla_writes(self, seq: int = 1) -> None:
        tenant, conversation = self.staff.tenant.widget_id, str(self.conversation.id)
        envelope = protocol.encrypt_message(
            self.customer_keys, tenant, conversation, self.epoch, self.key, seq,
            {"type": "text", "body": "I am back.", "sent_at": SENT_AT},
            after=protocol.head_after(tenant, conversation, [self.epoch]),
        )  # fmt: skip
        messages.do_send_message(
            self.conversation, self.conversation.customer_device, envelope.to_json()
        )

    def fresh(self) -> Conversation:
        return Conversation.objects.get(pk=self.conversation.pk)

    def kinds(self) -> list[str]:
        return list(
            Event.objects.filter(conversation=self.conversation).values_list("kind", flat=True)
        )


def test_alice_sends_the_chat_to_billing_where_bob_takes_it_ahead_of_an_older_one(
    acme: Staff,
) -> None:
    floor = Floor(acme)
    start(acme, team=floor.billing)  # waiting in Billing before the transfer
    floor.transfer(floor.billing)
    chat = floor.fresh()
    assert (chat.state, chat.team, chat.priority) == ("queued", floor.billing, True)
    assert floor.in_chat() == []
    assert floor.kinds()[-3:] == ["message", "left", "queued"]  # the signed leave first
    queued = Event.objects.filter(conversation=chat, kind=Event.Kind.QUEUED).get()
    assert queued.body == {
        "team": {"id": floor.billing.pk, "name": "Billing"},
        "reason": "transfer",
    }
    # Bob, available in Billing, is offered Carla's chat first, though the other waited longer.
    BuiltinRouter(acme.tenant).dispatch(floor.billing)
    first = Offer.objects.filter(agent=floor.bob).order_by("pk").first()
    assert first is not None and first.conversation_id == chat.pk
    assert first.kind == Offer.Kind.QUEUE
    offer = pending(chat)
    assert offer == first
    offers.do_accept_offer(floor.bob, floor.bob_device, offer.pk)
    assert floor.fresh().state == "active" and floor.in_chat() == ["Bob"]


def test_a_transfer_that_cannot_be_made_changes_nothing(acme: Staff, globex: Staff) -> None:
    unpinned = Floor(acme, pins=False)
    before = unpinned.kinds()
    assert refusal(lambda: unpinned.transfer(unpinned.billing)) == "customer_unpinned"
    unpinned.alice_seq = 0  # her refused leave was not stored: its number is free
    assert refusal(unpinned.park) == "customer_unpinned"
    assert unpinned.kinds() == before and unpinned.in_chat() == ["Alice"]
    assert unpinned.fresh().state == "active"
    # Otto's team is of Globex.
    assert refusal(lambda: unpinned.transfer(globex.team)) == "unknown_team"


def test_with_another_agent_in_the_chat_alice_leaves_it_to_them(acme: Staff) -> None:
    floor = Floor(acme)
    floor.bob.teams.add(acme.team)
    offers.do_accept_offer(floor.bob, floor.bob_device, floor.invite("conference").pk)
    before = floor.kinds()
    assert refusal(floor.park) == "agents_remain"
    assert floor.kinds() == before and floor.in_chat() == ["Alice", "Bob"]


def test_alice_parks_the_chat_carla_writes_and_alice_gets_it_back_first(acme: Staff) -> None:
    floor = Floor(acme)
    floor.park()
    chat = floor.fresh()
    assert (chat.state, chat.preferred_agent, chat.resume_at) == ("parked", floor.alice, None)
    assert floor.in_chat() == []
    parked = Event.objects.filter(conversation=chat, kind=Event.Kind.PARKED).get()
    assert parked.body["by"] == {"id": floor.alice.pk, "display_name": "Alice"}
    # Nothing is offered while it is parked; Carla can still write.
    presence.do_set_presence(floor.bob, Agent.Presence.AVAILABLE)
    floor.bob.teams.add(acme.team)
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    assert pending(chat) is None
    floor.carla_writes()
    requeue.do_resume(chat, chat.customer_device)
    chat = floor.fresh()
    assert (chat.state, chat.priority) == ("queued", True)
    # Alice (available) is asked first, though Bob was idle longer.
    BuiltinRouter(acme.tenant).dispatch(acme.team)
    offer = pending(chat)
    assert offer is not None and offer.agent == floor.alice


def test_a_parked_chat_resumes_when_its_time_comes(acme: Staff) -> None:
    acme.tenant.park_resume_minutes = 30
    acme.tenant.save(update_fields=["park_resume_minutes"])
    floor = Floor(acme)
    floor.park()
    now = timezone.now()
    assert requeue.do_sweep_parked(now + timedelta(minutes=29)) == 0
    assert requeue.do_sweep_parked(now + timedelta(minutes=31)) == 1
    assert floor.fresh().state == "queued"
    assert floor.kinds()[-1] == "queued"


def test_a_parked_chat_expires_after_the_tenants_limit(acme: Staff) -> None:
    acme.tenant.park_expiry_hours = 24
    acme.tenant.save(update_fields=["park_expiry_hours"])
    floor = Floor(acme)
    floor.park()
    now = timezone.now()
    assert requeue.do_sweep_parked(now + timedelta(hours=23)) == 0
    assert requeue.do_sweep_parked(now + timedelta(hours=25)) == 1
    closed = floor.fresh()
    assert (closed.state, closed.disposition) == ("closed", "expired")
    event = Event.objects.filter(conversation=closed, kind=Event.Kind.CLOSED).get()
    assert event.body == {"by": "sweeper", "disposition": "expired"}


def test_carla_may_end_a_parked_chat_and_nobody_may_resume_anothers(acme: Staff) -> None:
    floor = Floor(acme)
    floor.park()
    assert refusal(lambda: requeue.do_resume(floor.conversation, floor.alice_device)) == (
        "not_a_participant"
    )
    lifecycle.do_close_conversation(floor.conversation, floor.conversation.customer_device)
    assert floor.fresh().state == "closed"


def test_a_supervisor_keeps_monitoring_a_parked_chat(acme: Staff) -> None:
    from chat.actions import supervision

    acme.tenant.supervision = Tenant.Supervision.MONITOR
    acme.tenant.save(update_fields=["supervision"])
    floor = Floor(acme)
    Conversation.objects.filter(pk=floor.conversation.pk).update(supervision="monitor")
    _, sam_device = certified_device(acme, acme.supervisor)
    supervision.do_monitor(acme.supervisor, sam_device, floor.conversation)
    floor.park()
    chat = floor.fresh()
    assert chat.state == "parked"
    assert chat.participants.filter(agent=acme.supervisor, left_at__isnull=True).exists()


def test_a_supervisor_may_leave_a_parked_chat(acme: Staff) -> None:
    from chat.actions import invitations, supervision

    acme.tenant.supervision = Tenant.Supervision.MONITOR
    acme.tenant.save(update_fields=["supervision"])
    floor = Floor(acme)
    Conversation.objects.filter(pk=floor.conversation.pk).update(supervision="monitor")
    sam_keys, sam_device = certified_device(acme, acme.supervisor)
    supervision.do_monitor(acme.supervisor, sam_device, floor.conversation)
    floor.park()
    invitations.do_leave(
        acme.supervisor, sam_device, floor.conversation, floor.leave_of(sam_keys, 1)
    )
    assert not floor.fresh().participants.filter(left_at__isnull=True, agent__isnull=False)
