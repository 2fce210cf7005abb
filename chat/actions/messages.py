"""What participants' devices put in a conversation: signed, encrypted messages, epoch records
with key wraps, history shares; and typing, which is not stored.

The server cannot read any of it; it checks what it can without a key (docs/PROTOCOL.md).
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

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
    and their senders' places, one inserts the events, two update the counters. They are
    written in SQL, not through the ORM, whose building of each query and row was most of the
    database thread's time per message (docs/BENCHMARKS.md, issue 14)."""
    seats = _lock_seats(batch)
    results: list[tuple[Event, bool] | ChatError] = []
    pending: dict[tuple[object, str, int], Event] = {}
    now = timezone.now()
    for outgoing in batch:
        seat = seats.get((outgoing.conversation.pk, outgoing.device.id))
        try:
            if seat is None:
                raise ChatError(
                    "not_a_participant", "This device does not take part in the conversation."
                )
            results.append(_store_one(outgoing, seat, pending, now))
        except ChatError as refusal:
            results.append(refusal)
    if pending:
        _write(list(pending.values()), [seat for seat in seats.values() if seat.changed])
        for outgoing, result in zip(batch, results, strict=True):
            if isinstance(result, tuple) and result[1]:
                _after_stored(outgoing, result[0])
    return results


@dataclass(eq=False)
class _Chat:
    """What the send path reads of a locked conversation."""

    pk: UUID
    state: str
    last_seq: int
    customer_device_id: str


@dataclass(eq=False)
class _Seat:
    """What the send path reads of a sender's locked place in a conversation."""

    pk: int
    chat: _Chat
    role: str
    last_sender_seq: int
    changed: bool = False


def _lock_seats(batch: list[Outgoing]) -> dict[tuple[UUID, str], _Seat]:
    """Lock the batch's conversations and the places of its senders in them (if they take part
    now, through an unrevoked device), in the order of the conversations' ids, the one every
    batch of every process follows."""
    connection = transaction.get_connection()
    pk = Conversation._meta.pk
    assert pk is not None  # noqa: S101 (for mypy)
    conversations = sorted({o.conversation.pk for o in batch})
    devices = sorted({o.device.id for o in batch})
    lock = " FOR UPDATE OF c, pd" if connection.features.has_select_for_update_of else ""
    # Only the models' table names and placeholders are put into the text.
    sql = (
        "SELECT pd.id, pd.device_id, pd.last_sender_seq, p.role,"  # noqa: S608
        " c.id, c.state, c.last_seq, c.customer_device_id"
        f" FROM {ParticipantDevice._meta.db_table} pd"
        f" JOIN {Participant._meta.db_table} p ON p.id = pd.participant_id"
        f" JOIN {Conversation._meta.db_table} c ON c.id = p.conversation_id"
        f" JOIN {Device._meta.db_table} d ON d.id = pd.device_id"
        f" WHERE c.id IN ({', '.join(['%s'] * len(conversations))})"
        f" AND pd.device_id IN ({', '.join(['%s'] * len(devices))})"
        " AND p.left_at IS NULL AND d.revoked_at IS NULL"
        f" ORDER BY c.id, pd.id{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql, [*(pk.get_db_prep_value(c, connection) for c in conversations), *devices]
        )
        rows = cursor.fetchall()
    chats: dict[UUID, _Chat] = {}
    seats: dict[tuple[UUID, str], _Seat] = {}
    for seat_pk, device_id, last_sender_seq, role, chat_pk, state, last_seq, customer in rows:
        uuid = pk.to_python(chat_pk)
        chat = chats.setdefault(uuid, _Chat(uuid, state, last_seq, customer))
        seats[(uuid, device_id)] = _Seat(seat_pk, chat, role, last_sender_seq)
    return seats


# What a message's event stores; its id is not needed: clients know events by seq.
_EVENT_COLUMNS = (
    "conversation",
    "seq",
    "kind",
    "sender",
    "sender_seq",
    "epoch",
    "body",
    "size",
    "created_at",
)


def _write(events: list[Event], seats: list[_Seat]) -> None:
    """Insert the batch's new events and set its senders' and conversations' counters."""
    connection = transaction.get_connection()
    pk = Conversation._meta.pk
    assert pk is not None  # noqa: S101 (for mypy)
    chats = {seat.chat for seat in seats}
    fields = [f for f in Event._meta.concrete_fields if f.name in _EVENT_COLUMNS]
    row = f"({', '.join(['%s'] * len(fields))})"
    with connection.cursor() as cursor:
        # One statement for all: both backends return the new ids in the order of the rows.
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} ({', '.join(f.column for f in fields)})"  # noqa: S608
            f" VALUES {', '.join([row] * len(events))} RETURNING id",
            [f.get_db_prep_save(getattr(e, f.attname), connection) for e in events for f in fields],
        )
        for event, (pk_value,) in zip(events, cursor.fetchall(), strict=True):
            event.pk = pk_value
            event._state.adding = False
        cursor.executemany(
            f"UPDATE {ParticipantDevice._meta.db_table} SET last_sender_seq = %s WHERE id = %s",  # noqa: S608
            [(seat.last_sender_seq, seat.pk) for seat in seats],
        )
        cursor.executemany(
            f"UPDATE {Conversation._meta.db_table} SET last_seq = %s WHERE id = %s",  # noqa: S608
            [(chat.last_seq, pk.get_db_prep_value(chat.pk, connection)) for chat in chats],
        )


def _store_one(
    outgoing: Outgoing,
    seat: _Seat,
    pending: dict[tuple[object, str, int], Event],
    now: datetime,
) -> tuple[Event, bool]:
    parsed = outgoing.envelope
    chat = seat.chat
    if not outgoing.leaving and seat.role == Participant.Role.SUPERVISOR:
        place = ParticipantDevice.objects.select_related("participant__conversation__tenant").get(
            pk=seat.pk
        )
        supervision.require_may_write(place, place.participant.conversation, parsed.staff)
    if parsed.seq <= seat.last_sender_seq:
        existing = pending.get((chat.pk, outgoing.device.id, parsed.seq)) or (
            Event.objects.filter(
                conversation_id=chat.pk,
                kind=Event.Kind.MESSAGE,
                sender=outgoing.device,
                sender_seq=parsed.seq,
            ).first()
        )
        if existing is not None and existing.body == parsed.to_json():
            return existing, False  # a resend after a lost acknowledgement, even once closed
        raise ChatError("seq_conflict", f"Message {parsed.seq} was already sent otherwise.")
    if not outgoing.closed:
        states.require_open_state(chat.state)
    expected = seat.last_sender_seq + 1
    if parsed.seq != expected:
        raise ChatError(
            "seq_out_of_order", f"Expected message {expected} of this device, got {parsed.seq}."
        )
    seat.last_sender_seq, seat.changed = parsed.seq, True
    chat.last_seq += 1
    event = Event(
        conversation_id=chat.pk,
        seq=chat.last_seq,
        kind=Event.Kind.MESSAGE,
        body=parsed.to_json(),
        sender=outgoing.device,
        sender_seq=parsed.seq,
        epoch=parsed.epoch,
        size=len(parsed.ct),
        created_at=now,
    )
    pending[(chat.pk, outgoing.device.id, parsed.seq)] = event
    return event, True


def _after_stored(outgoing: Outgoing, event: Event) -> None:
    """What a new message sets off once it is in the log (each reads its locked conversation
    again, and is rare enough for that)."""
    customer = outgoing.conversation.customer_device_id
    if outgoing.answer and outgoing.device.id != customer and not outgoing.envelope.staff:
        # Staff wrote to the customer, and its browser says this is a text or a file, not a
        # receipt (which the server cannot tell apart): the answer an e-mail notice awaits.
        notices.answered(_conversation_of(event))
    if outgoing.envelope.seq == 1 and outgoing.device.id == customer:
        # The customer's first message, its pre-chat form: offers made before it say so now.
        offers.retell_pending(_conversation_of(event))


def _conversation_of(event: Event) -> Conversation:
    return Conversation.objects.select_related("tenant", "team").get(pk=event.conversation_id)


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
