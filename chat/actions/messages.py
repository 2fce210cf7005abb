"""What participants' devices put in a conversation: signed, encrypted messages, epoch records
with key wraps, history shares; and typing, which is not stored.

The server cannot read any of it; it checks what it can without a key (docs/PROTOCOL.md).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from agents.models import Device
from chat import states
from chat.actions import notices, offers, supervision
from chat.actions.devices import sign_key
from chat.actions.events import append_event, event_frame, lock_conversation
from chat.actions.membership import require_participant
from chat.broadcast import conversation_group, send_on_commit
from chat.errors import ChatError
from chat.models import Conversation, Event, Participant, ParticipantDevice
from sealdesk_client import protocol
from sealdesk_client.frames import TYPING, frame

# Largest envelope ciphertext the server stores: 16 KiB of plaintext, padded, sealed, in base64.
MAX_CIPHERTEXT_B64 = 4 * ((16_384 + 256 + 16) // 3 + 1)
MAX_WRAPS = 50


@dataclass
class Outgoing:
    """A device's message that passed the checks needing no lock (check_message), for the log."""

    conversation: Conversation
    device: Device
    envelope: protocol.Envelope
    leaving: bool = False
    closed: bool = False
    answer: bool = False


# Stored epoch records never change: each is read once per process, not once per message.
_EPOCH_RECORDS: dict[tuple[object, int], protocol.EpochRecord] = {}
_EPOCH_RECORDS_KEPT = 20_000


def check_message(
    conversation: Conversation,
    device: Device,
    envelope: object,
    *,
    leaving: bool = False,
    closed: bool = False,
    answer: bool = False,
) -> Outgoing:
    """Check what the server can check of a message without the conversation's lock: the
    envelope's shape, that its signature is the sender device's (so nobody stores a message in
    another's name), and its epoch (docs/PROTOCOL.md, "Messages")."""
    try:
        parsed = protocol.Envelope.from_json(envelope)
    except protocol.ProtocolError:
        raise ChatError("malformed_envelope", "The envelope is not a v2 envelope.") from None
    if parsed.sender != device.id:
        raise ChatError("wrong_sender", "An envelope must name the device that sends it.")
    if parsed.staff and device.id == conversation.customer_device_id:
        raise ChatError("not_staff", "Only staff devices write staff-only messages.")
    if 4 * (len(parsed.ct) // 3 + 1) > MAX_CIPHERTEXT_B64:
        raise ChatError("message_too_large", "Messages are limited to 16 KiB of text.")
    record = _stored_epoch(conversation, parsed.epoch)
    tenant_id = conversation.tenant.widget_id
    if not protocol.verify_envelope_signature(
        tenant_id, str(conversation.id), record, parsed, sign_key(device)
    ):
        raise ChatError("bad_signature", "The envelope's signature is not this device's.")
    return Outgoing(conversation, device, parsed, leaving=leaving, closed=closed, answer=answer)


def _stored_epoch(conversation: Conversation, epoch: int) -> protocol.EpochRecord:
    key = (conversation.pk, epoch)
    record = _EPOCH_RECORDS.get(key)
    if record is None:
        event = Event.objects.filter(
            conversation=conversation, kind=Event.Kind.EPOCH, epoch=epoch
        ).first()
        if event is None:
            raise ChatError("unknown_epoch", f"Epoch {epoch} does not exist.")
        record = _epoch_record(event)
        if len(_EPOCH_RECORDS) >= _EPOCH_RECORDS_KEPT:
            _EPOCH_RECORDS.clear()
        _EPOCH_RECORDS[key] = record
    return record


def do_send_message(
    conversation: Conversation,
    device: Device,
    envelope: object,
    *,
    leaving: bool = False,
    closed: bool = False,
    answer: bool = False,
) -> Event:
    """Store a device's signed, encrypted message after checking what the server can check,
    and broadcast it on commit; ANSWER, staff's word that it is a text or file to the customer,
    sends the e-mail notice a customer who left a message asked for (chat/actions/notices.py).

    The server cannot read the message (check_message, store_messages). A supervisor who
    monitors sends only whispers, where the policy allows them, and its signed leave (LEAVING).
    CLOSED: the one message a closed conversation takes, its rating's comment (chat/actions/
    satisfaction.py checks who and when). Sockets' messages go through chat/group_commit.py,
    which stores many in one transaction with store_messages.
    """
    outgoing = check_message(
        conversation, device, envelope, leaving=leaving, closed=closed, answer=answer
    )
    with transaction.atomic():
        (stored,) = store_messages([outgoing])
    if isinstance(stored, ChatError):
        raise stored
    event, new = stored
    if new:
        send_on_commit(conversation_group(conversation.id), event_frame(event))
    return event


def do_store_messages(batch: list[Outgoing]) -> list[tuple[Event, bool] | ChatError]:
    """Store checked messages of any conversations in one transaction (a group commit), and
    return for each its event and whether it is new (not a resend), or its refusal; the caller
    broadcasts the new ones once this returned, that is once they are durable."""
    with transaction.atomic():
        return store_messages(batch)


def store_messages(batch: list[Outgoing]) -> list[tuple[Event, bool] | ChatError]:
    """Store checked messages in the current transaction, each after the last of its sender
    (no gap, no repeat), a resend of a stored one answered with it; refusals store nothing.

    A batch costs the same few statements as one message: one query locks the conversations
    and their senders' places, one inserts the events, two update the counters."""
    seats = _lock_seats(batch)
    conversations: dict[object, Conversation] = {}
    pending: dict[tuple[object, str, int], Event] = {}
    changed_seats: dict[int, ParticipantDevice] = {}
    results: list[tuple[Event, bool] | ChatError] = []
    now = timezone.now()
    for outgoing in batch:
        seat = seats.get((outgoing.conversation.pk, outgoing.device.id))
        try:
            if seat is None:
                raise ChatError(
                    "not_a_participant", "This device does not take part in the conversation."
                )
            conversation = conversations.setdefault(
                outgoing.conversation.pk, seat.participant.conversation
            )
            event, new = _store_one(outgoing, conversation, seat, pending, now)
            results.append((event, new))
            if new:
                changed_seats[seat.pk] = seat
        except ChatError as refusal:
            results.append(refusal)
    if pending:
        Event.objects.bulk_create(pending.values())
        ParticipantDevice.objects.bulk_update(changed_seats.values(), ["last_sender_seq"])
        Conversation.objects.bulk_update(conversations.values(), ["last_seq"])
    for outgoing, result in zip(batch, results, strict=True):
        if isinstance(result, tuple) and result[1]:
            _after_stored(outgoing, result[0])
    return results


def _lock_seats(batch: list[Outgoing]) -> dict[tuple[object, str], ParticipantDevice]:
    """Lock the batch's conversations and the places of its senders in them, each with its
    participant, conversation and tenant; in the order of the conversations' ids, the one
    every batch of every process follows."""
    rows = (
        ParticipantDevice.objects.select_for_update(of=("participant__conversation", "self"))
        .select_related("participant__conversation__tenant")
        .filter(
            participant__conversation_id__in={o.conversation.pk for o in batch},
            participant__left_at__isnull=True,
            device_id__in={o.device.id for o in batch},
            device__revoked_at__isnull=True,
        )
        .order_by("participant__conversation_id", "pk")
    )
    return {(row.participant.conversation_id, row.device_id): row for row in rows}


def _store_one(
    outgoing: Outgoing,
    conversation: Conversation,
    seat: ParticipantDevice,
    pending: dict[tuple[object, str, int], Event],
    now: datetime,
) -> tuple[Event, bool]:
    parsed = outgoing.envelope
    if not outgoing.leaving:
        supervision.require_may_write(seat, conversation, parsed.staff)
    if parsed.seq <= seat.last_sender_seq:
        key = (conversation.pk, outgoing.device.id, parsed.seq)
        existing = (
            pending.get(key)
            or Event.objects.filter(
                conversation=conversation,
                kind=Event.Kind.MESSAGE,
                sender=outgoing.device,
                sender_seq=parsed.seq,
            ).first()
        )
        if existing is not None and existing.body == parsed.to_json():
            return existing, False  # a resend after a lost acknowledgement, even once closed
        raise ChatError("seq_conflict", f"Message {parsed.seq} was already sent otherwise.")
    if not outgoing.closed:
        states.require_open(conversation)
    expected = seat.last_sender_seq + 1
    if parsed.seq != expected:
        raise ChatError(
            "seq_out_of_order", f"Expected message {expected} of this device, got {parsed.seq}."
        )
    seat.last_sender_seq = parsed.seq
    conversation.last_seq += 1
    event = Event(
        conversation=conversation,
        seq=conversation.last_seq,
        kind=Event.Kind.MESSAGE,
        body=parsed.to_json(),
        sender=outgoing.device,
        sender_seq=parsed.seq,
        epoch=parsed.epoch,
        size=len(parsed.ct),
        created_at=now,
    )
    pending[(conversation.pk, outgoing.device.id, parsed.seq)] = event
    return event, True


def _after_stored(outgoing: Outgoing, event: Event) -> None:
    """What a new message sets off once it is in the log."""
    conversation = event.conversation
    customer = conversation.customer_device_id
    if outgoing.answer and outgoing.device.id != customer and not outgoing.envelope.staff:
        # Staff wrote to the customer, and its browser says this is a text or a file, not a
        # receipt (which the server cannot tell apart): the answer an e-mail notice awaits.
        notices.answered(conversation)
    if outgoing.envelope.seq == 1 and outgoing.device.id == customer:
        # The customer's first message, its pre-chat form: offers made before it say so now.
        offers.retell_pending(conversation)


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
