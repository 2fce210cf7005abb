"""Offering conversations to agents: a queued chat to route it, an assigned one to join it.

An agent accepts or declines before the offer expires; chat/states.py says which offer and
conversation states allow what. Every change is told to the agent's dashboards on commit and to
the tenant's router after it.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent, Device
from chat import states
from chat.actions import membership, trust
from chat.actions.events import lock_conversation, queue_changed
from chat.broadcast import agent_group, send_on_commit
from chat.errors import ChatError
from chat.models import Conversation, Offer, Participant
from chat.payloads import conversation_payload, invitation_payload, offer_payload
from chat.router import router_for
from sealdesk_client.frames import CONVERSATION, INVITATION, OFFER, OFFER_GONE, frame


def do_offer(
    conversation: Conversation,
    agent: Agent,
    now: datetime | None = None,
    kind: str = Offer.Kind.QUEUE,
    purpose: str = Offer.Purpose.ROUTE,
    invited_by: Agent | None = None,
) -> Offer | None:
    """Offer a conversation to an agent of its tenant; return None if it was offered meanwhile (a
    queued chat has one open offer at a time), is no longer in the state the offer's KIND needs,
    or has the agent in it already."""
    if agent.tenant_id != conversation.tenant_id:
        raise ValueError("an offer goes to an agent of the conversation's tenant")
    now = now or timezone.now()
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        if conversation.state != states.OFFER_TARGETS[kind]:
            return None
        if (
            kind == Offer.Kind.JOIN
            and conversation.participants.filter(agent=agent, left_at__isnull=True).exists()
        ):
            return None  # a queued chat has nobody but its customer in it
        timeout = timedelta(seconds=conversation.tenant.offer_timeout_seconds)
        try:
            with transaction.atomic():
                offer = Offer.objects.create(
                    conversation=conversation,
                    agent=agent,
                    kind=kind,
                    purpose=purpose,
                    invited_by=invited_by,
                    expires_at=now + timeout,
                    created_at=now,
                )
        except IntegrityError:
            return None  # another process offered it first
        send_on_commit(agent_group(agent.pk), frame(OFFER, offer=offer_payload(offer)))
        _tell_inviter(offer)
    return offer


def retell_pending(conversation: Conversation) -> None:
    """Send the conversation's open offers again, on commit, to the offered agents' dashboards:
    what an offer says changed (the customer's pre-chat arrived, encrypted)."""
    for offer in Offer.objects.filter(conversation=conversation, state=Offer.State.PENDING):
        send_on_commit(agent_group(offer.agent_id), frame(OFFER, offer=offer_payload(offer)))


def finish_offer(offer: Offer, state: str, now: datetime) -> None:
    """End a (locked) pending offer in STATE and tell the agent's dashboards, and the inviting
    agent's for an invitation."""
    states.advance_offer(offer, state)
    offer.decided_at = now
    offer.save(update_fields=["state", "decided_at"])
    send_on_commit(agent_group(offer.agent_id), frame(OFFER_GONE, offer=offer.pk, reason=state))
    _tell_inviter(offer)


def _tell_inviter(offer: Offer) -> None:
    """Tell the inviting agent's dashboards, on commit, where an invitation stands."""
    if offer.invited_by_id is not None:
        send_on_commit(
            agent_group(offer.invited_by_id),
            frame(INVITATION, invitation=invitation_payload(offer)),
        )


def rescind_pending(where: Q, now: datetime) -> list[Offer]:
    """Withdraw every pending offer matching WHERE (a conversation's, or an agent's); return
    them."""
    rescinded = list(Offer.objects.select_for_update().filter(where, state=Offer.State.PENDING))
    for offer in rescinded:
        finish_offer(offer, Offer.State.RESCINDED, now)
    return rescinded


def do_accept_offer(agent: Agent, device: Device, offer_id: object) -> Conversation:
    """Accept an offer: the agent's device joins the conversation, which becomes active."""
    now = timezone.now()
    found = Offer.objects.filter(pk=_int(offer_id), agent=agent).first()
    if found is None:
        raise ChatError("unknown_offer", "There is no such offer for you.")
    if device.agent_id != agent.pk or device.revoked_at is not None:
        raise ChatError("unknown_device", "Register this browser's keys first.")
    if device.cert is None and trust.requires_certificate(device):
        raise ChatError(
            "device_not_certified",
            "A tenant admin must approve this browser before it takes chats.",
        )
    with transaction.atomic():
        conversation = lock_conversation(Conversation(pk=found.conversation_id))
        Agent.objects.select_for_update().filter(pk=agent.pk).first()
        offer = Offer.objects.select_for_update().get(pk=found.pk)
        if offer.expires_at <= now:
            raise ChatError(*states.OFFER_GONE_REFUSAL)
        finish_offer(offer, Offer.State.ACCEPTED, now)  # refuses an offer no longer pending
        states.require_offer_target(offer, conversation)
        if offer.kind == Offer.Kind.QUEUE:  # the chat's first agent
            states.advance(conversation, Conversation.State.ACTIVE)
            conversation.accepted_at = now
            conversation.save(update_fields=["state", "accepted_at"])
            queue_changed(conversation.team_id)
        membership.do_join(conversation, agent, device, Participant.Role.AGENT, now)
        Agent.objects.filter(pk=agent.pk).update(idle_since=now)
        tenant = conversation.tenant
        transaction.on_commit(lambda: router_for(tenant).offer_accepted(offer), robust=True)
        send_on_commit(
            agent_group(agent.pk),
            frame(CONVERSATION, conversation=conversation_payload(conversation)),
        )
    return conversation


def do_decline_offer(agent: Agent, offer_id: object) -> None:
    """Decline an offer; the conversation goes to the next agent."""
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update(of=("self",))
            .select_related("conversation__tenant")
            .filter(pk=_int(offer_id), agent=agent)
            .first()
        )
        if offer is None:
            raise ChatError("unknown_offer", "There is no such offer for you.")
        finish_offer(offer, Offer.State.DECLINED, timezone.now())
        tenant = offer.conversation.tenant
        transaction.on_commit(lambda: router_for(tenant).offer_finished(offer), robust=True)


def do_expire_offers(now: datetime | None = None) -> int:
    """Expire every pending offer past its time and pass its conversation on; return how many."""
    now = now or timezone.now()
    expired = []
    with transaction.atomic():
        for offer in (
            Offer.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("conversation__tenant")
            .filter(state=Offer.State.PENDING, expires_at__lte=now)
        ):
            finish_offer(offer, Offer.State.EXPIRED, now)
            expired.append(offer)
        transaction.on_commit(lambda: _offers_finished(expired), robust=True)
    return len(expired)


def _offers_finished(finished: list[Offer]) -> None:
    for offer in finished:
        # A missed offer: its agent is not there; the next chats go to someone who is.
        if offer.state == Offer.State.EXPIRED and offer.conversation.tenant.away_after_missed_offer:
            from chat.actions.presence import do_set_presence

            do_set_presence(offer.agent, Agent.Presence.AWAY)
        router_for(offer.conversation.tenant).offer_finished(offer)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ChatError("malformed_frame", "Expected a number.")
    try:
        return int(value)
    except ValueError:
        raise ChatError("malformed_frame", "Expected a number.") from None
