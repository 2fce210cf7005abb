"""A conversation from start to close: one way in, from the widget, and one way out.

A conversation closes through do_close_conversation only: by a participant's device (an agent
with a wrap-up disposition, or the customer), or by its router giving up on a waiting chat.
"""

import re
import secrets

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Device, Team, Tenant
from chat import states
from chat.actions import devices, membership, offers, offline, supervision
from chat.actions.events import append_event, lock_conversation, queue_changed
from chat.errors import ChatError
from chat.models import Conversation, Event, hash_token
from chat.router import router_for

LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}")  # used with fullmatch


def do_start_conversation(
    tenant: Tenant,
    team: Team,
    sign_public: object,
    box_public: object,
    origin: str,
    language: object = "",
    pins: bool = False,
    message: bool = False,
) -> tuple[Conversation, str]:
    """Open a conversation for a customer's fresh device and queue it; return it and its token.

    With MESSAGE, the customer leaves a message for the team instead (chat/actions/offline.py);
    without, a team outside its business hours refuses the chat."""
    if not isinstance(language, str) or (
        language and not (len(language) <= 35 and LANGUAGE.fullmatch(language))
    ):
        raise ChatError("invalid_language", "language must be a tag such as en or de-CH.")
    if not message and not team.schedule().is_open(timezone.now()):
        raise ChatError("team_closed", f"{team.name} answers chats only in its business hours.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        device = devices.new_device(tenant, Device.Kind.CUSTOMER, sign_public, box_public)
        device.save(force_insert=True)  # a fresh id: no UPDATE tried first
        conversation = Conversation.objects.create(
            tenant=tenant,
            team=team,
            customer_device=device,
            customer_token_hash=hash_token(token),
            origin=origin[:200],
            language=language,
            supervision=tenant.supervision,
            customer_pins=pins,
        )
        membership.add_customer(conversation, device)
        if message:
            conversation = offline.do_leave_message(conversation, device)
            return conversation, token
        queue_changed(team.pk)
        transaction.on_commit(
            lambda: router_for(tenant).conversation_queued(conversation), robust=True
        )
    return conversation, token


def do_close_conversation(
    conversation: Conversation, by: Device | None, disposition: str = "", *, expired: bool = False
) -> Conversation:
    """Close a conversation: by a participant's device BY (an agent with a wrap-up disposition,
    or the customer), or, with BY None, by its router giving up on a chat still waiting, or (with
    EXPIRED) by the sweeper, for a chat parked longer than its tenant allows."""
    if expired:
        disposition = Conversation.Disposition.EXPIRED
    elif disposition and disposition not in Conversation.CLOSING_DISPOSITIONS:
        choices = ", ".join(Conversation.CLOSING_DISPOSITIONS)
        raise ChatError("invalid_disposition", f"Disposition must be one of {choices}.")
    now = timezone.now()
    with transaction.atomic():
        conversation = lock_conversation(conversation)
        states.require_open(conversation)
        if by is None:
            closer = "sweeper" if expired else "router"
        else:
            seat = membership.require_participant(conversation, by)
            supervision.require_may_act(seat)
            closer = "customer" if by.kind == Device.Kind.CUSTOMER else "agent"
        was_queued = conversation.state == Conversation.State.QUEUED
        states.close(conversation, closer)
        conversation.closed_at = now
        conversation.disposition = disposition
        # No answer comes any more: an address kept for its notice goes (chat/actions/notices.py).
        conversation.notify_email = ""
        conversation.save(update_fields=["state", "closed_at", "disposition", "notify_email"])
        offers.rescind_pending(Q(conversation=conversation), now)
        append_event(conversation, Event.Kind.CLOSED, {"by": closer, "disposition": disposition})
        if was_queued:
            queue_changed(conversation.team_id)
        tenant = conversation.tenant
        closed = conversation
        transaction.on_commit(lambda: router_for(tenant).conversation_closed(closed), robust=True)
    return conversation
