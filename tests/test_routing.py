"""The built-in router: team queues, longest idle first, capacity, timeouts, declines, presence."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from agents.models import Agent, Team, Tenant
from chat import builtin_router, router
from chat.actions import lifecycle, offers, presence
from chat.builtin_router import BuiltinRouter
from chat.errors import ChatError
from chat.models import Conversation, Offer
from chat.payloads import queue_position
from sealdesk_client.client import AgentClient, Customer
from tests.factories import (
    PASSWORD,
    Staff,
    accept,
    available,
    device_for,
    make_agent,
    pending,
    start,
)
from tests.live import DaphneServer

# Transactions commit for real here: routing reacts to changes once they commit.
pytestmark = pytest.mark.django_db(transaction=True)


def dispatch(staff: Staff) -> int:
    return BuiltinRouter(staff.tenant).dispatch(staff.team)


def test_queued_conversation_goes_to_the_longest_idle_available_agent(acme: Staff) -> None:
    bella = make_agent(acme.tenant, "bella", teams=(acme.team,))
    available(bella, acme.agent)  # Alice became available last: Bella has idled longer
    conversation = start(acme)  # the router reacts as soon as the conversation is queued
    offer = pending(conversation)
    assert offer is not None
    assert offer.agent == bella


def test_agents_away_offline_or_without_a_device_get_no_offer(acme: Staff) -> None:
    available(acme.agent)
    presence.do_set_presence(acme.agent, Agent.Presence.AWAY)
    acme.supervisor.presence = Agent.Presence.AVAILABLE  # available but never opened a dashboard
    acme.supervisor.save()
    conversation = start(acme)
    assert dispatch(acme) == 0
    assert pending(conversation) is None


def test_agents_of_another_team_or_tenant_get_no_offer(acme: Staff, globex: Staff) -> None:
    billing = Team.objects.create(tenant=acme.tenant, name="Billing")
    available(globex.agent)
    clara = make_agent(acme.tenant, "clara", teams=(billing,))
    available(clara)
    conversation = start(acme)
    dispatch(acme)
    assert pending(conversation) is None


def test_an_agent_at_capacity_gets_no_more_offers(acme: Staff) -> None:
    acme.agent.max_concurrent_chats = 1
    acme.agent.save()
    available(acme.agent)
    first, second = start(acme), start(acme)
    dispatch(acme)
    assert pending(first) is not None
    assert pending(second) is None


def test_one_dispatch_fills_each_agent_up_to_its_maximum_and_no_further(acme: Staff) -> None:
    """The router reads who may take a chat once per dispatch and counts the offers it makes:
    Alice (room for two) and Bella (one) get three of four queued chats in one go."""
    bella = make_agent(acme.tenant, "bella", teams=(acme.team,))
    acme.agent.max_concurrent_chats = 2
    acme.agent.save()
    bella.max_concurrent_chats = 1
    bella.save()
    chats = [start(acme) for _ in range(4)]  # nobody is available yet: all four wait
    for agent in (acme.agent, bella):
        device_for(agent)
    Agent.objects.filter(pk__in=(acme.agent.pk, bella.pk)).update(
        presence=Agent.Presence.AVAILABLE  # without the presence action's own dispatch
    )
    assert dispatch(acme) == 3
    offered = [pending(chat) for chat in chats]
    assert offered[3] is None
    assert sorted(offer.agent.user.username for offer in offered[:3] if offer) == [
        "alice",
        "alice",
        "bella",
    ]
    assert dispatch(acme) == 0  # and a second dispatch finds both full


def test_oldest_conversation_is_offered_first(acme: Staff) -> None:
    acme.agent.max_concurrent_chats = 1
    acme.agent.save()
    later, earlier = start(acme), start(acme)
    # Waiting longer: a chat waits since it started (or was sent back to the queue).
    Conversation.objects.filter(pk=earlier.pk).update(
        queued_at=later.queued_at - timedelta(minutes=1)
    )
    available(acme.agent)
    assert pending(earlier) is not None
    assert pending(later) is None


def test_declined_offer_passes_to_the_next_agent(acme: Staff) -> None:
    bella = make_agent(acme.tenant, "bella", teams=(acme.team,))
    available(acme.agent, bella)
    conversation = start(acme)
    dispatch(acme)
    first = pending(conversation)
    assert first is not None
    offers.do_decline_offer(first.agent, first.pk)
    second = pending(conversation)
    assert second is not None
    assert second.agent != first.agent
    first.refresh_from_db()
    assert first.state == Offer.State.DECLINED


def test_a_declined_chat_goes_round_again_but_not_at_once(acme: Staff) -> None:
    """Alice, the only agent, declines: the chat waits instead of coming straight back to her,
    and is offered again a minute later (issue 12: a decline is not an accident to repeat)."""
    available(acme.agent)
    conversation = start(acme)
    other = start(acme)  # waiting behind it: Alice's decline holds nobody else back
    dispatch(acme)
    offer = pending(conversation)
    assert offer is not None
    offers.do_decline_offer(acme.agent, offer.pk)
    dispatch(acme)
    assert pending(conversation) is None
    behind = pending(other)
    assert behind is not None and behind.agent == acme.agent
    Offer.objects.filter(pk=offer.pk).update(
        decided_at=timezone.now() - builtin_router.REOFFER_AFTER - timedelta(seconds=1)
    )
    dispatch(acme)
    again = pending(conversation)
    assert again is not None
    assert again.agent == acme.agent
    assert again.pk != offer.pk


def test_an_agent_who_lets_an_offer_pass_is_set_away_where_the_tenant_says_so(
    acme: Staff, django_capture_on_commit_callbacks: Any
) -> None:
    available(acme.agent)
    conversation = start(acme)
    dispatch(acme)
    offer = pending(conversation)
    assert offer is not None
    with django_capture_on_commit_callbacks(execute=True):
        offers.do_expire_offers(offer.expires_at + timedelta(seconds=1))
    acme.agent.refresh_from_db()
    assert acme.agent.presence == Agent.Presence.AWAY
    assert pending(conversation) is None

    acme.tenant.away_after_missed_offer = False
    acme.tenant.save(update_fields=["away_after_missed_offer"])
    available(acme.agent)
    Offer.objects.filter(pk=offer.pk).update(decided_at=timezone.now() - timedelta(minutes=5))
    dispatch(acme)
    second = pending(conversation)
    assert second is not None
    with django_capture_on_commit_callbacks(execute=True):
        offers.do_expire_offers(second.expires_at + timedelta(seconds=1))
    acme.agent.refresh_from_db()
    assert acme.agent.presence == Agent.Presence.AVAILABLE


def test_offer_times_out_and_passes_on(acme: Staff) -> None:
    bella = make_agent(acme.tenant, "bella", teams=(acme.team,))
    available(acme.agent, bella)
    conversation = start(acme)
    dispatch(acme)
    offer = pending(conversation)
    assert offer is not None
    assert offers.do_expire_offers(timezone.now()) == 0
    later = offer.expires_at + timedelta(seconds=1)
    assert offers.do_expire_offers(later) == 1
    offer.refresh_from_db()
    assert offer.state == Offer.State.EXPIRED
    nxt = pending(conversation)
    assert nxt is not None
    assert nxt.agent != offer.agent


def test_offer_timeout_follows_the_tenant_setting(acme: Staff) -> None:
    acme.tenant.offer_timeout_seconds = 45
    acme.tenant.save()
    available(acme.agent)
    conversation = start(acme)
    dispatch(acme)
    offer = pending(conversation)
    assert offer is not None
    assert offer.expires_at - offer.created_at == timedelta(seconds=45)


def test_going_offline_withdraws_offers_and_requeues(acme: Staff) -> None:
    bella = make_agent(acme.tenant, "bella", teams=(acme.team,))
    available(acme.agent)
    conversation = start(acme)
    dispatch(acme)
    offer = pending(conversation)
    assert offer is not None
    assert offer.agent == acme.agent
    available(bella)
    presence.do_set_presence(acme.agent, Agent.Presence.OFFLINE)
    offer.refresh_from_db()
    assert offer.state == Offer.State.RESCINDED
    nxt = pending(conversation)
    assert nxt is not None
    assert nxt.agent == bella


def test_accepting_makes_the_conversation_active_and_the_agent_busy(acme: Staff) -> None:
    acme.agent.max_concurrent_chats = 1
    acme.agent.save()
    available(acme.agent)
    conversation, waiting = start(acme), start(acme)
    device = accept(acme, conversation)
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ACTIVE
    assert conversation.current_agents() == [acme.agent]
    assert conversation.participants.filter(devices__device=device).exists()
    dispatch(acme)
    assert pending(waiting) is None
    assert queue_position(waiting) == 1


def test_closing_frees_capacity_for_the_next_in_queue(acme: Staff) -> None:
    acme.agent.max_concurrent_chats = 1
    acme.agent.save()
    available(acme.agent)
    conversation, waiting = start(acme), start(acme)
    device = accept(acme, conversation)
    lifecycle.do_close_conversation(conversation, device, "resolved")
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.CLOSED
    assert conversation.disposition == "resolved"
    assert pending(waiting) is not None


def test_an_agent_cannot_accept_another_agents_offer_or_an_expired_one(
    acme: Staff, globex: Staff
) -> None:
    available(acme.agent)
    conversation = start(acme)
    dispatch(acme)
    offer = pending(conversation)
    assert offer is not None
    outsider_device = device_for(globex.agent)
    with pytest.raises(ChatError) as refused:
        offers.do_accept_offer(globex.agent, outsider_device, offer.pk)
    assert refused.value.code == "unknown_offer"
    Offer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ChatError) as gone:
        offers.do_accept_offer(acme.agent, acme.agent.devices.get(), offer.pk)
    assert gone.value.code == "offer_gone"


def test_queue_positions_count_only_the_same_team(acme: Staff) -> None:
    billing = Team.objects.create(tenant=acme.tenant, name="Billing")
    first, other_team, second = start(acme), start(acme, billing), start(acme)
    assert queue_position(first) == 1
    assert queue_position(second) == 2
    assert queue_position(other_team) == 1


def test_customer_leaving_the_queue_withdraws_the_offer(acme: Staff) -> None:
    available(acme.agent)
    conversation = start(acme)
    dispatch(acme)
    offer = pending(conversation)
    assert offer is not None
    lifecycle.do_close_conversation(conversation, conversation.customer_device)
    offer.refresh_from_db()
    assert offer.state == Offer.State.RESCINDED


def test_the_sweeper_redispatches_waiting_conversations(acme: Staff) -> None:
    conversation = start(acme)  # queued while nobody was available
    Agent.objects.filter(pk=acme.agent.pk).update(presence=Agent.Presence.AVAILABLE)
    device_for(acme.agent)
    assert router.dispatch_waiting() == 1
    assert pending(conversation) is not None


async def test_in_a_running_server_an_unanswered_offer_passes_to_the_next_agent(
    acme: Staff, daphne: DaphneServer
) -> None:
    # Below the admin's 5 s minimum, to keep the test short; the sweeper runs every second.
    await Tenant.objects.filter(pk=acme.tenant.pk).aupdate(offer_timeout_seconds=2)
    await database_sync_to_async(make_agent)(acme.tenant, "bella", teams=(acme.team,))
    agents = [AgentClient(daphne.url, name, PASSWORD) for name in ("alice", "bella")]
    customer = Customer(daphne.url, acme.tenant.widget_id, "https://www.acme.example")
    try:
        for agent in agents:
            await agent.login()
            await agent.connect()
            await agent.set_presence(Agent.Presence.AVAILABLE)
        await customer.start(acme.team.pk, {"name": "Q", "email": "", "question": "Anyone?"})
        first = await asyncio.wait_for(_first_offered(agents), timeout=10)
        second = agents[1 - agents.index(first)]
        offer = next(iter(first.offers))
        await second.wait_until(lambda: bool(second.offers), timeout=10)
        await first.wait_until(lambda: offer not in first.offers, timeout=10)
        chat = await second.accept_next_offer()
        await chat.wait_until(lambda: len(chat.messages()) == 1)
        stored = await Offer.objects.aget(pk=offer)
        assert stored.state == Offer.State.EXPIRED
    finally:
        for agent in agents:
            await agent.close()
        await customer.close()


async def _first_offered(agents: list[AgentClient]) -> AgentClient:
    while True:
        for agent in agents:
            if agent.offers:
                return agent
        await asyncio.sleep(0.05)
