"""Who takes part in a conversation, in which role, through which devices, since and until when.

The Participant table is the record (chat/models.py): capacity, reconnect lists, access checks
and routing read it. A device sends, syncs and uploads only while its participant is in.
"""

from datetime import datetime
from uuid import UUID

from django.db.models import Max

from agents.models import Agent, Device
from chat.actions.events import append_event
from chat.errors import ChatError
from chat.models import Conversation, Event, Participant, ParticipantDevice
from chat.payloads import device_payload


def require_participant(conversation: Conversation, device: Device) -> ParticipantDevice:
    """Return (locked) the device's place in a conversation it takes part in now, else refuse.

    Its participant comes along: every message's check of who may write reads its role, and a
    query more per message is what the send path can least afford (docs/BENCHMARKS.md)."""
    seat = (
        ParticipantDevice.objects.select_for_update(of=("self",))
        .select_related("participant")
        .filter(
            participant__conversation=conversation,
            participant__left_at__isnull=True,
            device=device,
            device__revoked_at__isnull=True,
        )
        .first()
    )
    if seat is None:
        raise ChatError("not_a_participant", "This device does not take part in the conversation.")
    return seat


def is_participant(conversation_id: UUID, device: Device) -> bool:
    """Return whether the device takes part in the conversation now."""
    return ParticipantDevice.objects.filter(
        participant__conversation_id=conversation_id,
        participant__left_at__isnull=True,
        device=device,
        device__revoked_at__isnull=True,
    ).exists()


def _last_sender_seq(conversation: Conversation, device: Device) -> int:
    """Return the last message number DEVICE used in the conversation (0 if none)."""
    last = Event.objects.filter(
        conversation=conversation, kind=Event.Kind.MESSAGE, sender=device
    ).aggregate(last=Max("sender_seq"))["last"]
    return int(last or 0)


def add_customer(conversation: Conversation, device: Device) -> Participant:
    """Record the customer of a new conversation, on its device."""
    at = conversation.created_at
    participant = Participant.objects.create(
        conversation=conversation, role=Participant.Role.CUSTOMER, joined_at=at
    )
    ParticipantDevice.objects.create(participant=participant, device=device, added_at=at)
    return participant


def do_join(
    conversation: Conversation, agent: Agent, device: Device, role: str, now: datetime
) -> Participant:
    """Let an agent take part in a locked conversation through one of its devices, and tell the
    members with a `joined` notice (a hint: only an epoch record makes a device a member)."""
    participant = Participant.objects.filter(
        conversation=conversation, agent=agent, left_at__isnull=True
    ).first()
    if participant is None:
        participant = Participant.objects.create(
            conversation=conversation, role=role, agent=agent, joined_at=now
        )
    elif participant.devices.filter(device=device).exists():
        return participant  # in already, through this device: nothing to tell
    # A device that was in before (its person left and came back) goes on with its numbers.
    ParticipantDevice.objects.create(
        participant=participant,
        device=device,
        last_sender_seq=_last_sender_seq(conversation, device),
        added_at=now,
    )
    append_event(
        conversation,
        Event.Kind.JOINED,
        {"device": device_payload(device), "role": role, "name": agent.display_name},
    )
    return participant


def do_leave(
    conversation: Conversation, device: Device, now: datetime, *, last: bool = False
) -> Participant:
    """Let the agent of DEVICE leave an active conversation that another agent stays in, and
    tell the members with a `left` notice for each of its devices (a hint: its browser signed a
    leave first, and the next epoch leaves it out). The only agent transfers or closes instead,
    unless LAST: the chat goes back to a queue, or is parked (chat/actions/requeue.py)."""
    seat = require_participant(conversation, device)
    participant = seat.participant
    if participant.role == Participant.Role.CUSTOMER:
        raise ChatError("not_a_participant", "A customer ends the conversation instead.")
    others = conversation.participants.filter(
        role=Participant.Role.AGENT, left_at__isnull=True
    ).exclude(pk=participant.pk)
    # The last agent hands the chat over instead; a supervisor may always leave.
    if participant.role == Participant.Role.AGENT and not others.exists() and not last:
        raise ChatError(
            "last_agent",
            "You are the only agent in this chat: transfer it or close it instead.",
        )
    participant.left_at = now
    participant.save(update_fields=["left_at"])
    for device_id in participant.devices.values_list("device_id", flat=True):
        append_event(conversation, Event.Kind.LEFT, {"device": device_id, "reason": "left"})
    return participant
