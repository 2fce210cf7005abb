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
    """Return (locked) the device's place in a conversation it takes part in now, else refuse."""
    seat = (
        ParticipantDevice.objects.select_for_update(of=("self",))
        .select_related("participant")
        .filter(
            participant__conversation=conversation,
            participant__left_at__isnull=True,
            device=device,
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
    ).exists()


def add_device(participant: Participant, device: Device, now: datetime) -> ParticipantDevice:
    """Let a participant take part through DEVICE as well; its message numbers go on from the
    last one it used in this conversation, if it was in before."""
    last = Event.objects.filter(
        conversation_id=participant.conversation_id, kind=Event.Kind.MESSAGE, sender=device
    ).aggregate(last=Max("sender_seq"))["last"]
    return ParticipantDevice.objects.create(
        participant=participant, device=device, last_sender_seq=last or 0, added_at=now
    )


def add_customer(conversation: Conversation, device: Device) -> Participant:
    """Record the customer of a new conversation, on its device."""
    participant = Participant.objects.create(
        conversation=conversation, role=Participant.Role.CUSTOMER, joined_at=conversation.created_at
    )
    add_device(participant, device, conversation.created_at)
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
    add_device(participant, device, now)
    append_event(
        conversation,
        Event.Kind.JOINED,
        {"device": device_payload(device), "role": role, "name": agent.display_name},
    )
    return participant
