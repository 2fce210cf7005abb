"""Asking another agent into a conversation: for help (a conference) or to hand it over (a warm
transfer).

The invitation is an offer of kind `join` to the invited agent, which accepts, declines or lets
it time out like any offer; the inviting agent's dashboards hear how it went. Who then reads the
chat is decided by the members' browsers, not here: the invited agent's device joins the
server's record, and a member's browser adds it with a signed epoch once its certificate holds
(docs/PROTOCOL.md, "Who makes epochs"). A giver leaves with a signed leave (membership.do_leave).
"""

from django.db import transaction
from django.utils import timezone

from agents.models import Agent, Device
from chat import capacity, states
from chat.actions import membership, messages, offers, supervision, trust
from chat.actions.events import lock_conversation
from chat.broadcast import agent_group, send_on_commit
from chat.errors import ChatError
from chat.models import Conversation, Offer
from chat.router import router_for
from sealdesk_client.frames import LEFT, frame

PURPOSES = (Offer.Purpose.CONFERENCE, Offer.Purpose.TRANSFER)


def do_invite(
    inviter: Agent, device: Device, conversation: Conversation, invitee: Agent, purpose: object
) -> Offer:
    """Offer an active conversation the inviter takes part in to another available agent of
    its tenant, for PURPOSE (conference or transfer). Refuses, changing nothing, when the tenant
    has no organisation key, or the invitee is of another tenant, in the chat already,
    unavailable, at capacity or without a certified device."""
    if not isinstance(purpose, str) or purpose not in PURPOSES:
        raise ChatError("invalid_purpose", "An invitation is for a conference or a transfer.")
    if invitee.tenant_id != inviter.tenant_id:
        raise ChatError("unknown_agent", "There is no such agent in your organisation.")
    if trust.current_org_key(inviter.tenant) is None:
        # Without certificates a browser cannot tell a colleague's device from one the server
        # holds, so nobody is added after the first agent (docs/THREAT_MODEL.md).
        raise ChatError(
            "no_org_key",
            "Your organisation needs an organisation key before agents can be added to a chat.",
        )
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        states.require_open(conversation)
        supervision.require_may_act(membership.require_participant(conversation, device))
        if conversation.state != Conversation.State.ACTIVE:
            raise ChatError("conversation_not_active", "Nobody has taken this chat yet.")
        if invitee.role == Agent.Role.SUPERVISOR:
            # Supervisors open chats from their board; a chat offered to one would show the
            # customer a supervisor where an agent takes over (their certificates say so).
            raise ChatError("unknown_agent", "Supervisors open chats from their board.")
        if conversation.participants.filter(agent=invitee, left_at__isnull=True).exists():
            raise ChatError("already_in_conversation", f"{invitee.display_name} is in it already.")
        if Offer.objects.filter(
            conversation=conversation, agent=invitee, state=Offer.State.PENDING
        ).exists():
            raise ChatError("already_invited", f"{invitee.display_name} was asked already.")
        agent = Agent.objects.select_for_update().select_related("user").get(pk=invitee.pk)
        this_agent = Agent.objects.filter(pk=agent.pk)
        if not capacity.with_usable_device(this_agent).exists():
            raise ChatError(
                "device_not_certified",
                f"{agent.display_name} has no browser a tenant admin approved.",
            )
        if agent.presence != Agent.Presence.AVAILABLE or not agent.user.is_active:
            raise ChatError("agent_unavailable", f"{agent.display_name} is not available.")
        if not capacity.with_room(this_agent).exists():
            raise ChatError("agent_unavailable", f"{agent.display_name} has no free chat slot.")
        offer = offers.do_offer(
            conversation, agent, kind=Offer.Kind.JOIN, purpose=purpose, invited_by=inviter
        )
        if offer is None:  # the conversation's state changed under the lock: cannot happen
            raise ChatError(*states.OFFER_GONE_REFUSAL)
    return offer


def do_leave(agent: Agent, device: Device, conversation: Conversation, envelope: object) -> None:
    """Leave a conversation another agent stays in (the giver of a warm transfer, or either
    agent of a conference), storing ENVELOPE, the device's signed leave, in the same transaction:
    both are stored or neither (a leave stored without the leaving, or the other way round, would
    make members and the server disagree on who is in). The agent's dashboards drop the chat, and
    its chat slot is free."""
    now = timezone.now()
    with transaction.atomic():
        messages.do_send_message(conversation, device, envelope, leaving=True)
        conversation = lock_conversation(conversation)  # locked, as the message left it
        membership.do_leave(conversation, device, now)
        # The invitations this agent made for this chat and that are still open lapse with it.
        for offer in Offer.objects.select_for_update().filter(
            conversation=conversation, invited_by=agent, state=Offer.State.PENDING
        ):
            offers.finish_offer(offer, Offer.State.RESCINDED, now)
        send_on_commit(agent_group(agent.pk), frame(LEFT, conversation=str(conversation.id)))
        tenant = conversation.tenant
        transaction.on_commit(lambda: router_for(tenant).agent_changed(agent), robust=True)
