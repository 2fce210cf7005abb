"""Membership as a record: who takes part in a conversation, in which role, through which
devices, since and until when; and offers that bring another agent into an assigned chat.

Personas: Acme's Alice (agent) and Bella (a second agent of the team); Otto of Globex, the
outsider.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents import access
from agents.models import Agent
from chat.actions import lifecycle, membership, offers
from chat.builtin_router import eligible_agents
from chat.errors import ChatError
from chat.models import Conversation, Offer, Participant
from chat.payloads import conversation_payload
from tests.factories import Staff, accept, available, make_agent, pending, start

pytestmark = pytest.mark.django_db(transaction=True)


def bella_joins(acme: Staff, conversation: Conversation) -> Agent:
    """Offer Alice's chat to Bella to join, and let her accept it."""
    bella = make_agent(acme.tenant, "bella", teams=(acme.team,))
    available(bella)
    offer = offers.do_offer(conversation, bella, kind=Offer.Kind.JOIN)
    assert offer is not None
    offers.do_accept_offer(bella, bella.devices.get(), offer.pk)
    return bella


def test_accepting_records_the_agent_and_the_device_it_takes_part_through(acme: Staff) -> None:
    available(acme.agent)
    conversation = start(acme)
    device = accept(acme, conversation)
    customer, alice = conversation.participants.order_by("joined_at", "pk")
    assert (customer.role, customer.agent, customer.left_at) == ("customer", None, None)
    assert (alice.role, alice.agent, alice.left_at) == ("agent", acme.agent, None)
    assert [d.device_id for d in customer.devices.all()] == [conversation.customer_device_id]
    assert [d.device_id for d in alice.devices.all()] == [device.id]
    conversation.refresh_from_db()
    payload = conversation_payload(conversation)
    assert payload["agent"] == {"id": acme.agent.pk, "display_name": "Alice"}
    assert [(m["role"], m["agent"] and m["agent"]["display_name"]) for m in payload["members"]] == [
        ("customer", None),
        ("agent", "Alice"),
    ]


def test_an_assigned_chat_offered_to_join_brings_in_a_second_agent(acme: Staff) -> None:
    available(acme.agent)
    conversation = start(acme)
    accept(acme, conversation)
    accepted_at = Conversation.objects.get(pk=conversation.pk).accepted_at
    bella = bella_joins(acme, conversation)
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ACTIVE
    assert conversation.accepted_at == accepted_at
    assert conversation.current_agents() == [acme.agent, bella]
    # Bella's device may now send into it, she finds it again on reconnecting, and it counts
    # against her capacity as it does against Alice's.
    assert membership.is_participant(conversation.pk, bella.devices.get())
    assert list(access.conversations_for(bella)) == [conversation]
    assert access.access_conversation(bella, str(conversation.pk)) == conversation
    bella.max_concurrent_chats = 1
    bella.save()
    assert not eligible_agents(acme.team).filter(pk=bella.pk).exists()
    assert conversation.events.filter(kind="joined").count() == 2


def test_a_join_offer_needs_an_assigned_chat_and_a_queue_offer_a_waiting_one(acme: Staff) -> None:
    waiting = start(acme)  # nobody is available: it waits without an offer
    assert offers.do_offer(waiting, acme.agent, kind=Offer.Kind.JOIN) is None
    available(acme.agent)
    offer = pending(waiting)
    assert offer is not None and offer.kind == Offer.Kind.QUEUE
    # The chat is taken some other way meanwhile (a router's race): the queue offer is gone.
    Conversation.objects.filter(pk=waiting.pk).update(state=Conversation.State.ACTIVE)
    with pytest.raises(ChatError) as refused:
        offers.do_accept_offer(acme.agent, acme.agent.devices.get(), offer.pk)
    assert refused.value.code == "offer_gone"
    assert not waiting.participants.filter(agent=acme.agent).exists()


def test_an_agent_of_another_tenant_cannot_accept_a_join_offer(acme: Staff, globex: Staff) -> None:
    available(acme.agent, globex.agent)
    conversation = start(acme)
    accept(acme, conversation)
    bella = make_agent(acme.tenant, "bella", teams=(acme.team,))
    available(bella)
    offer = offers.do_offer(conversation, bella, kind=Offer.Kind.JOIN)
    assert offer is not None
    with pytest.raises(ChatError) as refused:
        offers.do_accept_offer(globex.agent, globex.agent.devices.get(), offer.pk)
    assert refused.value.code == "unknown_offer"
    with pytest.raises(ValueError, match="tenant"):
        offers.do_offer(conversation, globex.agent, kind=Offer.Kind.JOIN)
    assert conversation.current_agents() == [acme.agent]


def test_an_agent_in_the_chat_already_is_not_offered_it_again(acme: Staff) -> None:
    available(acme.agent)
    conversation = start(acme)
    accept(acme, conversation)
    assert offers.do_offer(conversation, acme.agent, kind=Offer.Kind.JOIN) is None
    assert conversation.events.filter(kind="joined").count() == 1


def test_a_closed_chat_keeps_its_record_and_takes_nobody_new(acme: Staff) -> None:
    available(acme.agent)
    conversation = start(acme)
    device = accept(acme, conversation)
    lifecycle.do_close_conversation(conversation, device, "resolved")
    conversation.refresh_from_db()
    assert offers.do_offer(conversation, acme.supervisor, kind=Offer.Kind.JOIN) is None
    assert [p.role for p in conversation.participants.all()] == ["customer", "agent"]
    # Alice still reads its history; it is no longer among the chats she works on.
    assert access.access_conversation(acme.agent, str(conversation.pk)) == conversation
    assert list(access.conversations_for(acme.agent)) == []


def test_the_migration_turns_each_device_row_into_a_person_with_its_devices(
    transactional_db: None,
) -> None:
    before = [("chat", "0003_twilio_taskrouter"), ("agents", "0004_twilio_taskrouter")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    try:
        tenant = old.get_model("agents", "Tenant").objects.create(name="Acme", slug="acme")
        team = old.get_model("agents", "Team").objects.create(tenant=tenant, name="Support")
        user = old.get_model("auth", "User").objects.create(username="alice")
        alice = old.get_model("agents", "Agent").objects.create(
            user=user, tenant=tenant, display_name="Alice"
        )
        Device = old.get_model("agents", "Device")
        customer = Device.objects.create(id="c" * 32, tenant=tenant, kind="customer")
        laptop = Device.objects.create(id="a" * 32, tenant=tenant, kind="agent", agent=alice)
        phone = Device.objects.create(id="b" * 32, tenant=tenant, kind="agent", agent=alice)
        chat = old.get_model("chat", "Conversation").objects.create(
            tenant=tenant,
            team=team,
            customer_device=customer,
            customer_token_hash="0" * 64,
            agent=alice,
            state="active",
            accepted_at=timezone.now(),
        )
        OldParticipant = old.get_model("chat", "Participant")
        OldParticipant.objects.create(conversation=chat, device=customer, role="customer")
        OldParticipant.objects.create(
            conversation=chat, device=laptop, role="agent", last_sender_seq=4
        )
        OldParticipant.objects.create(
            conversation=chat, device=phone, role="agent", last_sender_seq=2
        )

        executor = MigrationExecutor(connection)
        executor.migrate([("chat", "0004_participants_per_person")])
        new = executor.loader.project_state([("chat", "0004_participants_per_person")]).apps
        people = new.get_model("chat", "Participant").objects.filter(conversation_id=chat.pk)
        assert sorted((p.role, p.agent_id) for p in people) == [
            ("agent", alice.pk),
            ("customer", None),
        ]
        seats = new.get_model("chat", "ParticipantDevice").objects.filter(
            participant__conversation_id=chat.pk
        )
        assert sorted((s.participant.role, s.device_id, s.last_sender_seq) for s in seats) == [
            ("agent", "a" * 32, 4),
            ("agent", "b" * 32, 2),
            ("customer", "c" * 32, 0),
        ]
    finally:
        MigrationExecutor(connection).migrate(latest)  # the flush after the test empties it
    assert Participant.objects.filter(conversation_id=chat.pk).count() == 2


def test_listing_an_agents_chats_costs_no_query_more_per_chat(acme: Staff) -> None:
    """The dashboard's hello lists the agent's chats with their members on every (re)connect."""
    acme.agent.max_concurrent_chats = 5
    acme.agent.save()
    available(acme.agent)

    def queries_for_payloads() -> int:
        with CaptureQueriesContext(connection) as queries:
            payloads = [conversation_payload(c) for c in access.conversations_for(acme.agent)]
        assert all(p["agent"]["display_name"] == "Alice" for p in payloads)
        return len(queries)

    accept(acme, start(acme))
    one = queries_for_payloads()
    for _ in range(3):
        accept(acme, start(acme))
    assert queries_for_payloads() == one
