"""Functions that change state and tell the connected clients: write first, broadcast on commit.

Consumers and views only parse, authorise and call these (see ../shared/STYLE.md). Every
conversation event is numbered and stored before anyone hears of it, so a client that missed a
broadcast fetches it by number (docs/PROTOCOL.md, "Delivery").
"""

import base64
import binascii
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Agent, Device, Team, Tenant
from chat.models import Conversation, Event, Offer, Participant, hash_token
from sealdesk_client import protocol

# Largest envelope ciphertext the server stores: 16 KiB of plaintext, padded, sealed, in base64.
MAX_CIPHERTEXT_B64 = 4 * ((16_384 + 256 + 16) // 3 + 1)
MAX_WRAPS = 50


class ChatError(Exception):
    """A refused request, with the stable code and sentence the client receives."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# Channel-layer groups.


def agent_group(agent_id: int) -> str:
    """Return the group of every open dashboard socket of one agent."""
    return f"agent.{agent_id}"


def conversation_group(conversation_id: object) -> str:
    """Return the group of every socket following one conversation."""
    return f"conversation.{conversation_id}"


def queue_group(team_id: int) -> str:
    """Return the group of the customers waiting in one team's queue."""
    return f"queue.{team_id}"


def send_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send EVENT to GROUP once the current transaction commits (at once outside one)."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS has no default layer")
    # robust: a failed broadcast must not undo the answer to a change that committed; clients
    # catch up by sequence number (docs/PROTOCOL.md, "Delivery").
    transaction.on_commit(lambda: async_to_sync(layer.group_send)(group, event), robust=True)


# What clients receive.


def presence_payload(agent: Agent) -> dict[str, str]:
    """Return the agent's presence as clients receive it."""
    return {"presence": agent.presence, "changed_at": agent.presence_changed_at.isoformat()}


def device_payload(device: Device) -> dict[str, str]:
    """Return a device's public identity as clients receive it."""
    return {
        "id": device.id,
        "sign_public": device.sign_public,
        "box_public": device.box_public,
        "fingerprint": protocol.fingerprint(device.id),
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


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    """Return what a participant may know of a conversation besides its events."""
    return {
        "id": str(conversation.id),
        "tenant": conversation.tenant.widget_id,
        "team": {"id": conversation.team_id, "name": conversation.team.name},
        "state": conversation.state,
        "created_at": conversation.created_at.isoformat(),
        "customer_device": device_payload(conversation.customer_device),
        "agent": (
            {"id": conversation.agent_id, "display_name": conversation.agent.display_name}
            if conversation.agent
            else None
        ),
        "last_seq": conversation.last_seq,
        "disposition": conversation.disposition,
    }


def offer_payload(offer: Offer) -> dict[str, Any]:
    """Return an offer as the offered agent's dashboard receives it: routing metadata only."""
    conversation = offer.conversation
    return {
        "id": offer.pk,
        "conversation": str(conversation.id),
        "team": conversation.team.name,
        "waiting_since": conversation.created_at.isoformat(),
        "expires_at": offer.expires_at.isoformat(),
    }


def queue_position(conversation: Conversation) -> int:
    """Return the conversation's 1-based place in its team's queue (0 when not queued)."""
    if conversation.state != Conversation.State.QUEUED:
        return 0
    ahead = Conversation.objects.filter(
        team_id=conversation.team_id,
        state=Conversation.State.QUEUED,
        created_at__lt=conversation.created_at,
    ).count()
    return ahead + 1


# Keys and devices.


def _public_key(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise ChatError("invalid_key", f"{name} must be a base64 string.")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ChatError("invalid_key", f"{name} is not valid base64.") from None
    if len(raw) != 32:
        raise ChatError("invalid_key", f"{name} must be 32 bytes.")
    return raw


def _new_device(tenant: Tenant, kind: str, sign_public: object, box_public: object) -> Device:
    sign_raw = _public_key(sign_public, "sign_public")
    box_raw = _public_key(box_public, "box_public")
    device_id = protocol.device_id(sign_raw, box_raw)
    if Device.objects.filter(pk=device_id).exists():
        raise ChatError("device_exists", "These keys are registered already; make fresh ones.")
    return Device(
        id=device_id,
        tenant=tenant,
        kind=kind,
        sign_public=base64.b64encode(sign_raw).decode(),
        box_public=base64.b64encode(box_raw).decode(),
    )


def do_register_agent_device(
    agent: Agent, sign_public: object, box_public: object, label: str
) -> Device:
    """Register the public keys of one of the agent's browsers, or return it if known."""
    sign_raw = _public_key(sign_public, "sign_public")
    box_raw = _public_key(box_public, "box_public")
    known = Device.objects.filter(pk=protocol.device_id(sign_raw, box_raw)).first()
    if known is not None:
        if known.agent_id != agent.pk or known.revoked_at is not None:
            raise ChatError("device_exists", "These keys belong to another device.")
        return known
    device = _new_device(agent.tenant, Device.Kind.AGENT, sign_public, box_public)
    device.agent = agent
    device.label = label[:200]
    device.save()
    return device


# Conversations.


LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$")


def do_start_conversation(
    tenant: Tenant,
    team: Team,
    sign_public: object,
    box_public: object,
    origin: str,
    language: object = "",
) -> tuple[Conversation, str]:
    """Open a conversation for a customer's fresh device and queue it; return it and its token."""
    if not isinstance(language, str) or (
        language and not (len(language) <= 35 and LANGUAGE.match(language))
    ):
        raise ChatError("invalid_language", "language must be a tag such as en or de-CH.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        device = _new_device(tenant, Device.Kind.CUSTOMER, sign_public, box_public)
        device.save()
        conversation = Conversation.objects.create(
            tenant=tenant,
            team=team,
            customer_device=device,
            customer_token_hash=hash_token(token),
            origin=origin[:200],
            language=language,
        )
        Participant.objects.create(
            conversation=conversation, device=device, role=Participant.Role.CUSTOMER
        )
        _queue_changed(team)
        transaction.on_commit(
            lambda: _router(tenant).conversation_queued(conversation), robust=True
        )
    return conversation, token


def _append_event(
    conversation: Conversation,
    kind: str,
    body: dict[str, Any],
    sender: Device | None = None,
    sender_seq: int | None = None,
    epoch: int | None = None,
    size: int = 0,
) -> Event:
    """Number and store an event of a locked conversation, and broadcast it on commit."""
    conversation.last_seq += 1
    conversation.save(update_fields=["last_seq"])
    event = Event.objects.create(
        conversation=conversation,
        seq=conversation.last_seq,
        kind=kind,
        body=body,
        sender=sender,
        sender_seq=sender_seq,
        epoch=epoch,
        size=size,
    )
    send_on_commit(
        conversation_group(conversation.id),
        {
            "type": "conversation.event",
            "conversation": str(conversation.id),
            "event": event_payload(event),
        },
    )
    return event


def _locked(conversation: Conversation) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("tenant")
        .get(pk=conversation.pk)
    )


def require_participant(conversation: Conversation, device: Device) -> Participant:
    """Return (locked) the device's participation in a conversation, else refuse."""
    participant = (
        Participant.objects.select_for_update()
        .filter(conversation=conversation, device=device, left_at__isnull=True)
        .first()
    )
    if participant is None:
        raise ChatError("not_a_participant", "This device does not take part in the conversation.")
    return participant


def require_open(conversation: Conversation) -> None:
    """Refuse changes to a closed conversation."""
    if conversation.state == Conversation.State.CLOSED:
        raise ChatError("conversation_closed", "The conversation is closed.")


def _sign_key(device: Device) -> bytes:
    return base64.b64decode(device.sign_public)


def do_send_message(conversation: Conversation, device: Device, envelope: object) -> Event:
    """Store a device's signed, encrypted message after checking what the server can check.

    The server cannot read the message; it checks the envelope's shape, that its signature is
    the sender device's (so nobody stores a message in another's name), and that the sender's
    numbering has no gap or repeat (docs/PROTOCOL.md, "Messages").
    """
    try:
        parsed = protocol.Envelope.from_json(envelope)
    except protocol.ProtocolError:
        raise ChatError("malformed_envelope", "The envelope is not a v1 envelope.") from None
    if parsed.sender != device.id:
        raise ChatError("wrong_sender", "An envelope must name the device that sends it.")
    ct_size = len(parsed.ct)
    if 4 * (ct_size // 3 + 1) > MAX_CIPHERTEXT_B64:
        raise ChatError("message_too_large", "Messages are limited to 16 KiB of text.")
    tenant_id = conversation.tenant.widget_id
    if not protocol.verify_envelope_signature(
        tenant_id, str(conversation.id), parsed, _sign_key(device)
    ):
        raise ChatError("bad_signature", "The envelope's signature is not this device's.")
    with transaction.atomic():
        conversation = _locked(conversation)
        participant = require_participant(conversation, device)
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
        require_open(conversation)
        expected = participant.last_sender_seq + 1
        if parsed.seq != expected:
            raise ChatError(
                "seq_out_of_order", f"Expected message {expected} of this device, got {parsed.seq}."
            )
        if not Event.objects.filter(
            conversation=conversation, kind=Event.Kind.EPOCH, epoch=parsed.epoch
        ).exists():
            raise ChatError("unknown_epoch", f"Epoch {parsed.epoch} does not exist.")
        participant.last_sender_seq = parsed.seq
        participant.save(update_fields=["last_sender_seq"])
        return _append_event(
            conversation,
            Event.Kind.MESSAGE,
            parsed.to_json(),
            sender=device,
            sender_seq=parsed.seq,
            epoch=parsed.epoch,
            size=ct_size,
        )


def _epoch_record(event: Event) -> protocol.EpochRecord:
    return protocol.EpochRecord.from_json(event.body["record"])


def _parse_wraps(wraps: object) -> list[protocol.Wrap]:
    if not isinstance(wraps, list) or len(wraps) > MAX_WRAPS:
        raise ChatError("malformed_wraps", f"wraps must be a list of at most {MAX_WRAPS}.")
    try:
        return [protocol.Wrap.from_json(wrap) for wrap in wraps]
    except protocol.ProtocolError:
        raise ChatError("malformed_wraps", "A key wrap is not a v1 wrap.") from None


def do_add_epoch(
    conversation: Conversation, device: Device, record: object, wraps: object
) -> Event:
    """Store the next epoch record with its key wraps, after checking its chain and signature."""
    try:
        parsed = protocol.EpochRecord.from_json(record)
    except protocol.ProtocolError:
        raise ChatError("malformed_epoch", "The epoch record is not a v1 record.") from None
    parsed_wraps = _parse_wraps(wraps)
    with transaction.atomic():
        conversation = _locked(conversation)
        require_open(conversation)
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
        return _append_event(
            conversation,
            Event.Kind.EPOCH,
            {"record": parsed.to_json(), "wraps": [wrap.to_json() for wrap in parsed_wraps]},
            sender=device,
            epoch=parsed.epoch,
        )


def _check_wraps(
    conversation: Conversation, device: Device, wraps: list[protocol.Wrap], epochs: set[int]
) -> None:
    for wrap in wraps:
        if wrap.wrapper != device.id:
            raise ChatError("wrong_sender", "A key wrap must name the device that sends it.")
        if wrap.epoch not in epochs:
            raise ChatError("unknown_epoch", f"Epoch {wrap.epoch} does not exist.")


def do_share_history(conversation: Conversation, device: Device, wraps: object) -> Event:
    """Store wraps of earlier epoch keys for a new member (docs/PROTOCOL.md, "Key wraps")."""
    parsed_wraps = _parse_wraps(wraps)
    if not parsed_wraps:
        raise ChatError("malformed_wraps", "A history share needs at least one wrap.")
    with transaction.atomic():
        conversation = _locked(conversation)
        require_open(conversation)
        require_participant(conversation, device)
        epochs = set(
            Event.objects.filter(conversation=conversation, kind=Event.Kind.EPOCH).values_list(
                "epoch", flat=True
            )
        )
        _check_wraps(conversation, device, parsed_wraps, {e for e in epochs if e is not None})
        return _append_event(
            conversation,
            Event.Kind.SHARE,
            {"wraps": [wrap.to_json() for wrap in parsed_wraps]},
            sender=device,
        )


def do_typing(conversation: Conversation, device: Device, role: str) -> None:
    """Tell the conversation's other sockets that someone is typing; nothing is stored."""
    send_on_commit(
        conversation_group(conversation.id),
        {
            "type": "conversation.typing",
            "conversation": str(conversation.id),
            "device": device.id,
            "role": role,
        },
    )


# Routing: offers, acceptance, closing.


def _router(tenant: Tenant) -> Any:
    from chat.router import router_for

    return router_for(tenant)


def _queue_changed(team: Team) -> None:
    send_on_commit(queue_group(team.pk), {"type": "queue.changed"})


def do_offer(
    conversation: Conversation,
    agent: Agent,
    now: datetime | None = None,
    reservation_sid: str | None = None,
) -> Offer | None:
    """Offer a queued conversation to an agent; return None if it was offered meanwhile.

    RESERVATION_SID is the Twilio TaskRouter Reservation the offer stands for, in that mode.
    """
    now = now or timezone.now()
    timeout = timedelta(seconds=conversation.tenant.offer_timeout_seconds)
    try:
        with transaction.atomic():
            offer = Offer.objects.create(
                conversation=conversation,
                agent=agent,
                expires_at=now + timeout,
                created_at=now,
                twilio_reservation_sid=reservation_sid,
            )
    except IntegrityError:
        return None  # another process offered it first (one pending offer per conversation)
    send_on_commit(agent_group(agent.pk), {"type": "offer.new", "offer": offer_payload(offer)})
    return offer


def _finish_offer(offer: Offer, state: str, now: datetime) -> None:
    offer.state = state
    offer.decided_at = now
    offer.save(update_fields=["state", "decided_at"])
    send_on_commit(
        agent_group(offer.agent_id), {"type": "offer.gone", "offer": offer.pk, "reason": state}
    )


def do_accept_offer(agent: Agent, device: Device, offer_id: object) -> Conversation:
    """Accept an offer: the agent's device joins the conversation, which becomes active."""
    now = timezone.now()
    found = Offer.objects.filter(pk=_int(offer_id), agent=agent).first()
    if found is None:
        raise ChatError("unknown_offer", "There is no such offer for you.")
    if device.agent_id != agent.pk or device.revoked_at is not None:
        raise ChatError("unknown_device", "Register this browser's keys first.")
    with transaction.atomic():
        # Locks in one order everywhere: conversation, then agent, then offer.
        conversation = _locked(Conversation(pk=found.conversation_id))
        Agent.objects.select_for_update().filter(pk=agent.pk).first()
        offer = Offer.objects.select_for_update().get(pk=found.pk)
        if offer.state != Offer.State.PENDING or offer.expires_at <= now:
            raise ChatError("offer_gone", "This offer has timed out or been withdrawn.")
        if conversation.state != Conversation.State.QUEUED:
            raise ChatError("offer_gone", "This chat was closed or taken meanwhile.")
        _finish_offer(offer, Offer.State.ACCEPTED, now)
        conversation.state = Conversation.State.ACTIVE
        conversation.agent = agent
        conversation.accepted_at = now
        conversation.save(update_fields=["state", "agent", "accepted_at"])
        Participant.objects.create(
            conversation=conversation, device=device, role=Participant.Role.AGENT
        )
        Agent.objects.filter(pk=agent.pk).update(idle_since=now)
        _append_event(
            conversation,
            Event.Kind.JOINED,
            {
                "device": device_payload(device),
                "role": Participant.Role.AGENT,
                "name": agent.display_name,
            },
        )
        _queue_changed(conversation.team)
        conversation.refresh_from_db()
        tenant = conversation.tenant
        transaction.on_commit(lambda: _router(tenant).offer_accepted(offer), robust=True)
        send_on_commit(
            agent_group(agent.pk),
            {"type": "conversation.assigned", "conversation": conversation_payload(conversation)},
        )
    return conversation


def do_decline_offer(agent: Agent, offer_id: object) -> None:
    """Decline an offer; the conversation goes back to the queue for the next agent."""
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update()
            .select_related("conversation__tenant")
            .filter(pk=_int(offer_id), agent=agent)
            .first()
        )
        if offer is None:
            raise ChatError("unknown_offer", "There is no such offer for you.")
        if offer.state != Offer.State.PENDING:
            raise ChatError("offer_gone", "This offer has timed out or been withdrawn.")
        _finish_offer(offer, Offer.State.DECLINED, timezone.now())
        tenant = offer.conversation.tenant
        transaction.on_commit(lambda: _router(tenant).offer_finished(offer), robust=True)


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
            _finish_offer(offer, Offer.State.EXPIRED, now)
            expired.append(offer)
        transaction.on_commit(
            lambda: [_router(o.conversation.tenant).offer_finished(o) for o in expired],
            robust=True,
        )
    return len(expired)


def do_set_presence(agent: Agent, presence: str, *, from_router: bool = False) -> Agent:
    """Set the agent's presence, tell the agent's dashboards, and let the router react.

    FROM_ROUTER: the change came from the router itself (a Twilio Activity change), which is
    then not told about it again.
    """
    if presence not in Agent.Presence.values:
        raise ValueError(f"unknown presence {presence!r}")
    with transaction.atomic():
        agent = (
            Agent.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=agent.pk)
        )
        now = timezone.now()
        if agent.presence != presence:
            agent.presence = presence
            agent.presence_changed_at = now
            fields = ["presence", "presence_changed_at"]
            if presence == Agent.Presence.AVAILABLE:
                agent.idle_since = now
                fields.append("idle_since")
            agent.save(update_fields=fields)
        if presence != Agent.Presence.AVAILABLE:
            # Offers wait for nobody who stepped away: they pass to the next agent.
            for offer in Offer.objects.select_for_update().filter(
                agent=agent, state=Offer.State.PENDING
            ):
                _finish_offer(offer, Offer.State.RESCINDED, now)
        send_on_commit(
            agent_group(agent.pk), {"type": "presence.changed", **presence_payload(agent)}
        )
        tenant = agent.tenant
        if not from_router:
            transaction.on_commit(lambda: _router(tenant).agent_changed(agent), robust=True)
    return agent


def do_close_conversation(
    conversation: Conversation, by: Device, disposition: str = ""
) -> Conversation:
    """Close a conversation, by its agent with a wrap-up disposition, or by its customer."""
    if disposition and disposition not in Conversation.Disposition.values:
        choices = ", ".join(Conversation.Disposition.values)
        raise ChatError("invalid_disposition", f"Disposition must be one of {choices}.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _locked(conversation)
        require_open(conversation)
        require_participant(conversation, by)
        was_queued = conversation.state == Conversation.State.QUEUED
        conversation.state = Conversation.State.CLOSED
        conversation.closed_at = now
        conversation.disposition = disposition
        conversation.save(update_fields=["state", "closed_at", "disposition"])
        for offer in Offer.objects.select_for_update().filter(
            conversation=conversation, state=Offer.State.PENDING
        ):
            _finish_offer(offer, Offer.State.RESCINDED, now)
        role = "customer" if by.kind == Device.Kind.CUSTOMER else "agent"
        _append_event(conversation, Event.Kind.CLOSED, {"by": role, "disposition": disposition})
        if was_queued:
            _queue_changed(conversation.team)
        tenant = conversation.tenant
        closed = conversation
        transaction.on_commit(lambda: _router(tenant).conversation_closed(closed), robust=True)
    return conversation


def do_offer_reservation(
    conversation: Conversation, agent: Agent, task_sid: str, reservation_sid: str
) -> str:
    """Offer a conversation for a Twilio TaskRouter Reservation, under the conversation's lock.

    Return what Twilio must be told: "" (nothing yet: the agent decides), "accepted" (the agent
    has the chat already: an earlier answer was lost), "rejected" (no offer could be made), or
    "cancel" (the Task must end: the chat closed, is another agent's, or has another Task).
    """
    now = timezone.now()
    with transaction.atomic():
        conversation = _locked(conversation)
        if not conversation.twilio_task_sid:  # the callback came before the Task SID was stored
            conversation.twilio_task_sid = task_sid
            conversation.save(update_fields=["twilio_task_sid"])
        if conversation.twilio_task_sid != task_sid:
            return "cancel"
        if conversation.state == Conversation.State.CLOSED:
            return "cancel"
        if conversation.state == Conversation.State.ACTIVE:
            return "accepted" if conversation.agent_id == agent.pk else "cancel"
        # TaskRouter reserves one Worker at a time: a new Reservation means the last one ended,
        # even if its timeout event has not arrived yet.
        for stale in Offer.objects.select_for_update().filter(
            conversation=conversation, state=Offer.State.PENDING
        ):
            _finish_offer(stale, Offer.State.RESCINDED, now)
        offer = do_offer(conversation, agent, now, reservation_sid=reservation_sid)
        return "" if offer is not None else "rejected"


def do_end_reservation(tenant: Tenant, reservation_sid: str, state: str) -> Offer | None:
    """End the pending offer that stands for a Twilio Reservation that Twilio ended (timed out,
    rescinded or canceled); return it, or None if no such offer was pending."""
    with transaction.atomic():
        offer = (
            Offer.objects.select_for_update()
            .filter(
                twilio_reservation_sid=reservation_sid,
                conversation__tenant=tenant,
                state=Offer.State.PENDING,
            )
            .first()
        )
        if offer is not None:
            _finish_offer(offer, state, timezone.now())
    return offer


def do_close_unrouted(conversation: Conversation) -> Conversation | None:
    """Close a queued conversation that its router gave up on (Twilio canceled its Task), so
    that the customer is not left waiting; return it, or None if it was not waiting."""
    now = timezone.now()
    with transaction.atomic():
        conversation = _locked(conversation)
        if conversation.state != Conversation.State.QUEUED:
            return None
        conversation.state = Conversation.State.CLOSED
        conversation.closed_at = now
        conversation.disposition = Conversation.Disposition.UNROUTED
        conversation.save(update_fields=["state", "closed_at", "disposition"])
        for offer in Offer.objects.select_for_update().filter(
            conversation=conversation, state=Offer.State.PENDING
        ):
            _finish_offer(offer, Offer.State.RESCINDED, now)
        _append_event(
            conversation,
            Event.Kind.CLOSED,
            {"by": "router", "disposition": Conversation.Disposition.UNROUTED},
        )
        _queue_changed(conversation.team)
    return conversation


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ChatError("malformed_frame", "Expected a number.")
    try:
        return int(value)
    except ValueError:
        raise ChatError("malformed_frame", "Expected a number.") from None
