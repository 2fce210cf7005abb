"""What participants' devices put in a conversation: signed, encrypted messages, epoch records
with key wraps, history shares; and typing, which is not stored.

The server cannot read any of it; it checks what it can without a key (docs/PROTOCOL.md).
"""

from django.db import transaction

from agents.models import Device
from chat import states
from chat.actions import notices, offers, supervision
from chat.actions.devices import sign_key
from chat.actions.events import append_event, lock_conversation
from chat.actions.membership import require_participant
from chat.broadcast import conversation_group, send_on_commit
from chat.errors import ChatError
from chat.models import Conversation, Event, Participant, ParticipantDevice
from sealdesk_client import protocol
from sealdesk_client.frames import TYPING, frame

# Largest envelope ciphertext the server stores: 16 KiB of plaintext, padded, sealed, in base64.
MAX_CIPHERTEXT_B64 = 4 * ((16_384 + 256 + 16) // 3 + 1)
MAX_WRAPS = 50


def do_send_message(
    conversation: Conversation,
    device: Device,
    envelope: object,
    *,
    leaving: bool = False,
    closed: bool = False,
    answer: bool = False,
) -> Event:
    """Store a device's signed, encrypted message after checking what the server can check;
    ANSWER, staff's word that it is a text or file to the customer, sends the e-mail notice a
    customer who left a message asked for (chat/actions/notices.py).

    The server cannot read the message; it checks the envelope's shape, that its signature is
    the sender device's (so nobody stores a message in another's name), and that the sender's
    numbering has no gap or repeat (docs/PROTOCOL.md, "Messages"). A supervisor who monitors
    sends only whispers, where the policy allows them, and its signed leave (LEAVING). CLOSED:
    the one message a closed conversation takes, its rating's comment (chat/actions/
    satisfaction.py checks who and when).
    """
    try:
        parsed = protocol.Envelope.from_json(envelope)
    except protocol.ProtocolError:
        raise ChatError("malformed_envelope", "The envelope is not a v2 envelope.") from None
    if parsed.sender != device.id:
        raise ChatError("wrong_sender", "An envelope must name the device that sends it.")
    if parsed.staff and device.id == conversation.customer_device_id:
        raise ChatError("not_staff", "Only staff devices write staff-only messages.")
    ct_size = len(parsed.ct)
    if 4 * (ct_size // 3 + 1) > MAX_CIPHERTEXT_B64:
        raise ChatError("message_too_large", "Messages are limited to 16 KiB of text.")
    # A stored epoch record never changes, so it is read before the conversation is locked.
    epoch = Event.objects.filter(
        conversation=conversation, kind=Event.Kind.EPOCH, epoch=parsed.epoch
    ).first()
    if epoch is None:
        raise ChatError("unknown_epoch", f"Epoch {parsed.epoch} does not exist.")
    tenant_id = conversation.tenant.widget_id
    if not protocol.verify_envelope_signature(
        tenant_id, str(conversation.id), _epoch_record(epoch), parsed, sign_key(device)
    ):
        raise ChatError("bad_signature", "The envelope's signature is not this device's.")
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        seat = require_participant(conversation, device)
        if not leaving:
            supervision.require_may_write(seat, conversation, parsed.staff)
        existing = Event.objects.filter(
            conversation=conversation,
            kind=Event.Kind.MESSAGE,
            sender=device,
            sender_seq=parsed.seq,
        ).first()
        if existing is not None:
            if existing.body == parsed.to_json():
                return existing  # a resend after a lost acknowledgement, even once closed
            raise ChatError("seq_conflict", f"Message {parsed.seq} was already sent otherwise.")
        if not closed:
            states.require_open(conversation)
        expected = seat.last_sender_seq + 1
        if parsed.seq != expected:
            raise ChatError(
                "seq_out_of_order", f"Expected message {expected} of this device, got {parsed.seq}."
            )
        seat.last_sender_seq = parsed.seq
        seat.save(update_fields=["last_sender_seq"])
        event = append_event(
            conversation,
            Event.Kind.MESSAGE,
            parsed.to_json(),
            sender=device,
            sender_seq=parsed.seq,
            epoch=parsed.epoch,
            size=ct_size,
        )
        if answer and device.id != conversation.customer_device_id and not parsed.staff:
            # Staff wrote to the customer, and its browser says this is a text or a file, not a
            # receipt (which the server cannot tell apart): the answer an e-mail notice awaits.
            notices.answered(conversation)
        if parsed.seq == 1 and device.id == conversation.customer_device_id:
            # The customer's first message, its pre-chat form: offers made before it say so now.
            offers.retell_pending(conversation)
        return event


def _epoch_record(event: Event) -> protocol.EpochRecord:
    return protocol.EpochRecord.from_json(event.body["record"])


def _parse_wraps(wraps: object) -> list[protocol.Wrap]:
    if not isinstance(wraps, list) or len(wraps) > MAX_WRAPS:
        raise ChatError("malformed_wraps", f"wraps must be a list of at most {MAX_WRAPS}.")
    try:
        return [protocol.Wrap.from_json(wrap) for wrap in wraps]
    except protocol.ProtocolError:
        raise ChatError("malformed_wraps", "A key wrap is not a well-formed wrap.") from None


def _check_wraps(
    conversation: Conversation, device: Device, wraps: list[protocol.Wrap], epochs: set[int]
) -> None:
    customer = conversation.customer_device_id
    staff_devices = (
        set(
            ParticipantDevice.objects.filter(
                participant__conversation=conversation, participant__left_at__isnull=True
            )
            .exclude(participant__role=Participant.Role.CUSTOMER)
            .values_list("device_id", flat=True)
        )
        if any(wrap.staff for wrap in wraps)
        else set()
    )
    for wrap in wraps:
        if wrap.wrapper != device.id:
            raise ChatError("wrong_sender", "A key wrap must name the device that sends it.")
        if wrap.epoch not in epochs:
            raise ChatError("unknown_epoch", f"Epoch {wrap.epoch} does not exist.")
        # Staff keys go from staff to staff (docs/PROTOCOL.md, "Staff-only messages"); the
        # customer's browser refuses them anyway.
        if wrap.staff and (
            customer in (wrap.wrapper, wrap.recipient) or wrap.recipient not in staff_devices
        ):
            raise ChatError(
                "not_staff", "Staff keys go from staff devices to staff devices in the chat only."
            )


def do_add_epoch(
    conversation: Conversation, device: Device, record: object, wraps: object
) -> Event:
    """Store the next epoch record with its key wraps, after checking its chain and signature."""
    try:
        parsed = protocol.EpochRecord.from_json(record)
    except protocol.ProtocolError:
        raise ChatError("malformed_epoch", "The epoch record is not a v2 record.") from None
    parsed_wraps = _parse_wraps(wraps)
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        states.require_open(conversation)
        require_participant(conversation, device)
        if parsed.creator != device.id:
            raise ChatError("wrong_sender", "An epoch record must name the device that sends it.")
        if parsed.tenant != conversation.tenant.widget_id or parsed.conversation != str(
            conversation.id
        ):
            raise ChatError("wrong_conversation", "The epoch record names another conversation.")
        latest = (
            Event.objects.filter(conversation=conversation, kind=Event.Kind.EPOCH)
            .order_by("-epoch")
            .first()
        )
        expected = 0 if latest is None else (latest.epoch or 0) + 1
        if parsed.epoch != expected:
            raise ChatError("epoch_conflict", f"The next epoch is {expected}.")
        try:
            protocol.verify_epoch(
                parsed,
                _epoch_record(latest) if latest else None,
                customer_device_id=conversation.customer_device_id,
            )
        except protocol.ProtocolError:
            raise ChatError("bad_epoch", "The epoch record does not follow the chain.") from None
        # Wraps of the new epoch, and history shares of the earlier ones for its newcomers.
        _check_wraps(conversation, device, parsed_wraps, epochs=set(range(parsed.epoch + 1)))
        return append_event(
            conversation,
            Event.Kind.EPOCH,
            {"record": parsed.to_json(), "wraps": [wrap.to_json() for wrap in parsed_wraps]},
            sender=device,
            epoch=parsed.epoch,
        )


def do_share_history(conversation: Conversation, device: Device, wraps: object) -> Event:
    """Store wraps of earlier epoch keys for a new member (docs/PROTOCOL.md, "Key wraps"), or
    of a staff key for the staff members of an epoch ("Staff-only messages")."""
    parsed_wraps = _parse_wraps(wraps)
    if not parsed_wraps:
        raise ChatError("malformed_wraps", "A history share needs at least one wrap.")
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        states.require_open(conversation)
        require_participant(conversation, device)
        epochs = set(
            Event.objects.filter(conversation=conversation, kind=Event.Kind.EPOCH).values_list(
                "epoch", flat=True
            )
        )
        _check_wraps(conversation, device, parsed_wraps, {e for e in epochs if e is not None})
        return append_event(
            conversation,
            Event.Kind.SHARE,
            {"wraps": [wrap.to_json() for wrap in parsed_wraps]},
            sender=device,
        )


def do_typing(conversation: Conversation, device: Device, role: str) -> None:
    """Tell the conversation's other sockets that someone is typing; nothing is stored. A
    supervisor who monitors types unseen."""
    seat = (
        ParticipantDevice.objects.select_related("participant")
        .filter(participant__conversation=conversation, participant__left_at__isnull=True)
        .filter(device=device)
        .first()
    )
    if seat is None or supervision.is_silent(seat):
        return
    send_on_commit(
        conversation_group(conversation.id),
        frame(TYPING, conversation=str(conversation.id), role=role, device=device.id),
    )
