"""Messages left when no one can answer: outside a team's business hours, or after a long wait.

The customer's browser encrypts the message to every certified agent device of the team: the
server names them with `joined` notices, and the widget, which pins the organisation key, adds
each one whose certificate holds in the epoch it makes (docs/PROTOCOL.md, "Messages left"). The
conversation then waits, in state `message`, in its team's "offline messages" list until an agent
picks it up through one of the devices it was addressed to; it goes on as a chat with that agent.
"""

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from agents import access
from agents.models import Agent, Device, Team
from chat import states
from chat.actions import membership, offers
from chat.actions.events import append_event, lock_conversation, queue_changed
from chat.actions.trust import current_org_key
from chat.broadcast import agent_group, send_on_commit
from chat.errors import ChatError
from chat.models import Conversation, Event, Participant
from chat.payloads import conversation_payload, device_payload
from chat.router import router_for
from sealdesk_client.frames import CONVERSATION, MESSAGES, frame

# The most browsers a message is encrypted to: the customer's browser sends the epoch with a wrap
# for each and a history share for each in one frame, which the server bounds (MAX_WRAPS in
# chat/actions/messages.py, and 64 KiB a frame).
MAX_MESSAGE_DEVICES = 20


def message_devices(team: Team) -> list[Device]:
    """Return the devices a message left for TEAM is encrypted to: the certified, unrevoked
    browsers of its agents (not supervisors) whose logins are active, the most recently approved
    first, at most MAX_MESSAGE_DEVICES."""
    return list(addressable(team).select_related("agent")[:MAX_MESSAGE_DEVICES])


def addressable(team: Team) -> QuerySet[Device]:
    """Return every browser a message left for TEAM may be encrypted to, most recently approved
    first (message_devices takes the first MAX_MESSAGE_DEVICES)."""
    return (
        Device.objects.filter(
            tenant=team.tenant,
            kind=Device.Kind.AGENT,
            agent__teams=team,
            agent__user__is_active=True,
            revoked_at__isnull=True,
            cert__isnull=False,
        )
        .exclude(agent__role=Agent.Role.SUPERVISOR)
        .order_by("-certified_at", "pk")
    )


def do_leave_message(conversation: Conversation, by: Device) -> Conversation:
    """Turn the customer's waiting (or new) conversation into a message left for its team."""
    now = timezone.now()
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        seat = membership.require_participant(conversation, by)
        if seat.participant.role != Participant.Role.CUSTOMER:
            raise ChatError("not_a_participant", "Only the customer leaves a message.")
        # Without a pinned organisation key the widget would trust the server's word for who
        # reads the message (docs/THREAT_MODEL.md): no messages then.
        if not conversation.customer_pins or current_org_key(conversation.tenant) is None:
            raise ChatError(
                "messages_unavailable", "This chat cannot leave a message: its page pins no key."
            )
        # A chat that had an agent goes on with the next one: its history is not for the whole
        # team's browsers (docs/PROTOCOL.md, "Messages left").
        if conversation.accepted_at is not None:
            raise ChatError(
                "messages_unavailable", "This chat had an agent already: it waits for the next."
            )
        was_queued = conversation.state == Conversation.State.QUEUED
        states.advance(conversation, Conversation.State.MESSAGE)
        team = conversation.team
        devices = message_devices(team)
        if not devices:
            raise ChatError(
                "messages_unavailable", "Nobody of this team has an approved browser yet."
            )
        conversation.message_left_at = now
        conversation.message_devices = [device.pk for device in devices]
        conversation.save(update_fields=["state", "message_left_at", "message_devices"])
        offers.rescind_pending(Q(conversation=conversation), now)
        for device in devices:
            assert device.agent is not None  # noqa: S101 (an agent device)
            append_event(
                conversation,
                Event.Kind.JOINED,
                {
                    "device": device_payload(device),
                    "role": Participant.Role.AGENT,
                    "name": device.agent.display_name,
                },
            )
        if was_queued:
            queue_changed(team.pk)
        tenant = conversation.tenant
        left = conversation
        # The router lets go of it as of a chat that closed before anyone took it.
        transaction.on_commit(lambda: router_for(tenant).conversation_closed(left), robust=True)
        messages_changed(team)
    return conversation


def messages_for(agent: Agent) -> QuerySet[Conversation]:
    """Return the messages left for the agent's teams and not yet picked up, oldest first."""
    return access.left_messages(agent).filter(state=Conversation.State.MESSAGE)


def message_payload(conversation: Conversation, device: Device | None) -> dict[str, object]:
    """Return a left message as an agent's list shows it: metadata, and whether the agent's
    browser DEVICE can read it (only the devices it was encrypted to can)."""
    left_at = conversation.message_left_at
    return {
        "id": str(conversation.id),
        "team": {"id": conversation.team_id, "name": conversation.team.name},
        "created_at": conversation.created_at.isoformat(),
        "left_at": left_at.isoformat() if left_at else None,
        "readable": device is not None and device.pk in conversation.message_devices,
    }


def messages_changed(team: Team) -> None:
    """Tell the team's agents, on commit, that their lists of left messages changed."""
    for agent_id in team.agents.values_list("pk", flat=True):
        send_on_commit(agent_group(agent_id), {"type": MESSAGES})


def do_pick_up(agent: Agent, device: Device, conversation: Conversation) -> Conversation:
    """Let an agent pick up a message left for one of its teams (agents.access.
    access_left_message found it), through a device the message was encrypted to: the
    conversation goes on as a chat with that agent."""
    now = timezone.now()
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        Agent.objects.select_for_update().filter(pk=agent.pk).first()
        # As it is now: the socket's copy may predate a revocation.
        device = Device.objects.filter(pk=device.pk).first() or device
        if device.agent_id != agent.pk or device.revoked_at is not None:
            raise ChatError("unknown_device", "Register this browser's keys first.")
        if conversation.state != Conversation.State.MESSAGE:
            # Taken or closed meanwhile; or waiting in a queue again, where the router offers it.
            refusal = states.CONVERSATION_REFUSALS.get(conversation.state)
            if refusal is None:
                raise ChatError("not_found", "There is no such message for your teams.")
            raise ChatError(*refusal)
        if device.pk not in conversation.message_devices or device.cert is None:
            raise ChatError(
                "not_addressed",
                "This message was encrypted to other browsers: pick it up from one of them.",
            )
        states.advance(conversation, Conversation.State.ACTIVE)
        conversation.accepted_at = now
        conversation.save(update_fields=["state", "accepted_at"])
        membership.do_join(conversation, agent, device, Participant.Role.AGENT, now)
        Agent.objects.filter(pk=agent.pk).update(idle_since=now)
        messages_changed(conversation.team)
        send_on_commit(
            agent_group(agent.pk),
            frame(CONVERSATION, conversation=conversation_payload(conversation)),
        )
    return conversation
