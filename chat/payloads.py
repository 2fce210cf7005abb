"""What clients receive of the server's rows: the read side of the frames that
sealdesk_client/frames.py lists."""

from typing import Any

from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from agents.models import Agent, Device
from chat.models import Conversation, Event, Offer, Participant
from sealdesk_client import protocol


def presence_payload(agent: Agent) -> dict[str, str]:
    """Return the agent's presence as clients receive it."""
    return {"presence": agent.presence, "changed_at": agent.presence_changed_at.isoformat()}


def device_payload(device: Device) -> dict[str, Any]:
    """Return a device's public identity as clients receive it, with its certificate if a
    tenant admin approved it (clients check it themselves)."""
    return {
        "id": device.id,
        "sign_public": device.sign_public,
        "box_public": device.box_public,
        "fingerprint": protocol.fingerprint(device.id),
        "cert": device.cert,
    }


def event_payload(event: Event) -> dict[str, Any]:
    """Return a conversation event as clients receive it."""
    return {
        "seq": event.seq,
        "kind": event.kind,
        "at": event.created_at.isoformat(),
        "sender": event.sender_id,
        "body": event.body,
    }


def member_payload(participant: Participant) -> dict[str, Any]:
    """Return a participant as clients receive it: role, who, since when, until when."""
    agent = participant.agent
    return {
        "role": participant.role,
        "agent": {"id": agent.pk, "display_name": agent.display_name} if agent else None,
        "joined_at": participant.joined_at.isoformat(),
        "left_at": participant.left_at.isoformat() if participant.left_at else None,
        # A supervisor who monitors writes to the customer only once it barged in.
        "barged_at": participant.barged_at.isoformat() if participant.barged_at else None,
    }


def members_prefetch() -> Prefetch[str, QuerySet[Participant], str]:
    """Return the prefetch that conversation_payload needs: participants with their agents.

    Lists of conversations prefetch it, so that their payloads cost no query each."""
    return Prefetch("participants", queryset=Participant.objects.select_related("agent"))


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    """Return what a participant may know of a conversation besides its events."""
    prefetch_related_objects([conversation], members_prefetch())  # nothing when prefetched
    members = list(conversation.participants.all())
    agents = [m.agent for m in members if m.role == Participant.Role.AGENT and not m.left_at]
    return {
        "id": str(conversation.id),
        "tenant": conversation.tenant.widget_id,
        "team": {"id": conversation.team_id, "name": conversation.team.name},
        "state": conversation.state,
        "created_at": conversation.created_at.isoformat(),
        "customer_device": device_payload(conversation.customer_device),
        # The first agent who took the chat and is still in it, as one line on screens.
        "agent": (
            {"id": agents[0].pk, "display_name": agents[0].display_name}
            if agents and agents[0] is not None
            else None
        ),
        "members": [member_payload(m) for m in members],
        "last_seq": conversation.last_seq,
        "disposition": conversation.disposition,
        # Left as a message for the team (chat/actions/offline.py): its first epoch holds the
        # team's agent devices, of which the one that picks it up keeps only itself.
        "message": conversation.message_left_at is not None,
        # Its customer waits for an e-mail notice of the answer (chat/actions/notices.py): only
        # then does a staff browser mark its answer (`send`'s answer), which nothing else needs.
        "notify": bool(conversation.notify_email),
    }


def history_payload(conversation: Conversation, my_devices: list[str]) -> dict[str, Any]:
    """Return a conversation as the agent's history lists it: its metadata, when it was taken
    and closed, and which of the agent's devices were in it (the only ones that can read it)."""
    return {
        **conversation_payload(conversation),
        "accepted_at": conversation.accepted_at.isoformat() if conversation.accepted_at else None,
        "closed_at": conversation.closed_at.isoformat() if conversation.closed_at else None,
        "disposition_label": conversation.get_disposition_display(),
        "my_devices": sorted(my_devices),
    }


def _agent_ref(agent: Agent | None) -> dict[str, Any] | None:
    return {"id": agent.pk, "display_name": agent.display_name} if agent else None


def offer_payload(offer: Offer) -> dict[str, Any]:
    """Return an offer as the offered agent's dashboard receives it: routing metadata only, who
    asked, for an invitation, and whether the customer's browser sent its first message, which
    the widget makes its pre-chat form (encrypted: the agent reads it once in the chat)."""
    conversation = offer.conversation
    prechat = Event.objects.filter(
        conversation=conversation,
        kind=Event.Kind.MESSAGE,
        sender_id=conversation.customer_device_id,
    ).exists()
    return {
        "id": offer.pk,
        "conversation": str(conversation.id),
        "kind": offer.kind,
        "purpose": offer.purpose,
        "by": _agent_ref(offer.invited_by),
        "team": conversation.team.name,
        "waiting_since": conversation.created_at.isoformat(),
        "expires_at": offer.expires_at.isoformat(),
        "prechat": prechat,
    }


def invitation_payload(offer: Offer) -> dict[str, Any]:
    """Return an invitation as the inviting agent's dashboards receive it."""
    return {
        "offer": offer.pk,
        "conversation": str(offer.conversation_id),
        "agent": _agent_ref(offer.agent),
        "purpose": offer.purpose,
        "state": offer.state,
        "expires_at": offer.expires_at.isoformat(),
    }


def queue_position(conversation: Conversation) -> int:
    """Return the conversation's 1-based place in its team's queue (0 when not queued)."""
    if conversation.state != Conversation.State.QUEUED:
        return 0
    # The router's order (chat/builtin_router.py): chats sent back to the queue first.
    queued = Conversation.objects.filter(
        team_id=conversation.team_id, state=Conversation.State.QUEUED
    )
    ahead = queued.filter(queued_at__lt=conversation.queued_at, priority=conversation.priority)
    if not conversation.priority:
        ahead = ahead | queued.filter(priority=True)
    return ahead.count() + 1
