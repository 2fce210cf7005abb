"""Sending a chat back to a queue: a cold transfer to a team, and parking a chat that waits on
its customer until it resumes (or expires).

Either way the agent signs a leave first (docs/PROTOCOL.md, "Leaving"), stored with the change in
one transaction: the next epoch, which the customer's browser (or another member's) makes, leaves
the agent's device out, and whoever takes the chat next is added by a member's signed epoch as
any agent is. A chat back in a queue is routed ahead of the chats waiting there, and a resumed one
to the agent who parked it first, if that agent can take it.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from agents.models import Agent, Device, Team
from chat import states
from chat.actions import membership, messages, offers
from chat.actions.events import append_event, lock_conversation, queue_changed
from chat.actions.lifecycle import do_close_conversation
from chat.broadcast import agent_group, send_on_commit
from chat.errors import ChatError
from chat.models import Conversation, Event, Offer, Participant
from chat.router import router_for
from sealdesk_client.frames import LEFT, frame


def _leave_for_good(
    agent: Agent, device: Device, conversation: Conversation, envelope: object
) -> Conversation:
    """Store the agent's signed leave and its leaving, in the caller's transaction, when it is
    the only agent; return the conversation, locked."""
    messages.do_send_message(conversation, device, envelope, leaving=True)
    conversation = lock_conversation(conversation)  # locked, as the message left it
    if conversation.state != Conversation.State.ACTIVE:
        raise states.conversation_refusal(conversation.state)
    if not conversation.customer_pins:
        raise ChatError(
            "customer_unpinned",
            "This customer's chat checks no organisation key, so no other agent could be let in "
            "after you: ask a colleague in instead.",
        )
    others = conversation.participants.filter(
        role=Participant.Role.AGENT, left_at__isnull=True
    ).exclude(agent=agent)
    if others.exists():
        raise ChatError(
            "agents_remain",
            "Another agent is in this chat: leave it to them instead.",
        )
    now = timezone.now()
    membership.do_leave(conversation, device, now, last=True)
    for offer in Offer.objects.select_for_update().filter(
        conversation=conversation, state=Offer.State.PENDING
    ):
        offers.finish_offer(offer, Offer.State.RESCINDED, now)
    send_on_commit(agent_group(agent.pk), frame(LEFT, conversation=str(conversation.id)))
    return conversation


def _back_in_queue(conversation: Conversation, reason: str, by: Agent | None = None) -> None:
    """Put a locked conversation in its team's queue, ahead of the chats waiting there."""
    states.advance(conversation, Conversation.State.QUEUED)
    conversation.priority = True
    conversation.queued_at = timezone.now()
    conversation.accepted_at = None
    conversation.parked_at = None
    conversation.resume_at = None
    conversation.park_expires_at = None
    conversation.save(
        update_fields=[
            "state",
            "team",
            "priority",
            "preferred_agent",
            "queued_at",
            "accepted_at",
            "parked_at",
            "resume_at",
            "park_expires_at",
        ]
    )
    team = conversation.team
    append_event(
        conversation,
        Event.Kind.QUEUED,
        {"team": {"id": team.pk, "name": team.name}, "reason": reason},
    )
    queue_changed(team.pk)
    requeued = conversation
    tenant = conversation.tenant
    transaction.on_commit(
        lambda: router_for(tenant).conversation_requeued(requeued, by), robust=True
    )


def do_transfer_to_queue(
    agent: Agent, device: Device, conversation: Conversation, team: Team, envelope: object
) -> Conversation:
    """Hand an active chat the agent is the only agent of to a team's queue (a cold transfer,
    of the same team or another of the tenant), storing ENVELOPE, the device's signed leave."""
    if team.tenant_id != agent.tenant_id:
        raise ChatError("unknown_team", "There is no such team in your organisation.")
    with transaction.atomic():
        conversation = _leave_for_good(agent, device, conversation, envelope)
        conversation.team = team
        conversation.preferred_agent = None
        _back_in_queue(conversation, "transfer", by=agent)
    tenant = conversation.tenant
    transaction.on_commit(lambda: router_for(tenant).agent_changed(agent), robust=True)
    return conversation


def do_park(
    agent: Agent, device: Device, conversation: Conversation, envelope: object
) -> Conversation:
    """Park an active chat that waits on its customer: the agent leaves it (storing ENVELOPE,
    its signed leave), it leaves the agent's capacity and screen, and it goes back to the
    queue when the customer writes, after the tenant's resume time if one is set, to this agent
    first; it closes after the tenant's expiry time."""
    now = timezone.now()
    with transaction.atomic():
        conversation = _leave_for_good(agent, device, conversation, envelope)
        states.advance(conversation, Conversation.State.PARKED)
        tenant = conversation.tenant
        conversation.parked_at = now
        conversation.preferred_agent = agent
        minutes = tenant.park_resume_minutes
        conversation.resume_at = now + timedelta(minutes=minutes) if minutes else None
        conversation.park_expires_at = now + timedelta(hours=tenant.park_expiry_hours)
        conversation.save(
            update_fields=["state", "parked_at", "preferred_agent", "resume_at", "park_expires_at"]
        )
        append_event(
            conversation,
            Event.Kind.PARKED,
            {
                "by": {"id": agent.pk, "display_name": agent.display_name},
                "resume_at": conversation.resume_at.isoformat() if conversation.resume_at else None,
                "expires_at": conversation.park_expires_at.isoformat(),
            },
        )
        parked = conversation
        transaction.on_commit(
            lambda: router_for(tenant).conversation_parked(parked, agent), robust=True
        )
        transaction.on_commit(lambda: router_for(tenant).agent_changed(agent), robust=True)
    return conversation


def do_resume(conversation: Conversation, device: Device) -> Conversation:
    """The customer of a parked chat writes again (its widget asks before it sends): the chat
    goes back to its queue, to the agent who parked it first. A chat no longer parked is left
    as it is."""
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        membership.require_participant(conversation, device)
        if conversation.state == Conversation.State.PARKED:
            _back_in_queue(conversation, "resume")
    return conversation


def do_sweep_parked(now: datetime | None = None) -> int:
    """Send back to their queues the parked chats whose resume time came, and close those parked
    longer than their tenant allows; return how many changed."""
    at = timezone.now() if now is None else now
    changed = 0
    parked = Conversation.objects.filter(state=Conversation.State.PARKED)
    for conversation in parked.filter(park_expires_at__lte=at).only("pk"):
        with transaction.atomic():
            # Checked again under the lock: it may have resumed, and been parked anew, since.
            locked = lock_conversation(conversation)
            expires = locked.park_expires_at
            if locked.state == Conversation.State.PARKED and expires and expires <= at:
                do_close_conversation(locked, None, expired=True)
                changed += 1
    for conversation in parked.filter(resume_at__lte=at).only("pk"):
        with transaction.atomic():
            locked = lock_conversation(conversation)
            due = locked.resume_at
            if locked.state == Conversation.State.PARKED and due and due <= at:
                _back_in_queue(locked, "resume")
                changed += 1
    return changed
