"""Websocket consumers: parse, authorise through agents.access, call chat.actions.

Frames and error codes are listed in docs/PROTOCOL.md, Part 2.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError
from django.db.models import Q
from django.http import Http404

from agents import access, two_factor
from agents.models import Agent, Device, Tenant
from chat import waiting
from chat.actions import (
    invitations,
    lifecycle,
    messages,
    notices,
    offers,
    offline,
    requeue,
    satisfaction,
    supervision,
)
from chat.actions.presence import do_set_presence
from chat.actions.trust import org_payload
from chat.broadcast import agent_group, conversation_group, queue_group
from chat.errors import ChatError
from chat.group_commit import group_commit
from chat.models import Conversation, Event, Offer, Participant
from chat.payloads import (
    conversation_payload,
    device_payload,
    event_payload,
    invitation_payload,
    offer_payload,
    presence_payload,
)
from chat.sweeper import ensure_sweeper
from sealdesk_client import frames
from sealdesk_client.frames import frame as make_frame

logger = logging.getLogger(__name__)

# Largest frame a client may send; larger ones get a frame_too_large error (docs/PROTOCOL.md).
MAX_FRAME_BYTES = 64 * 1024
# Events in one answer to a sync frame; the client asks again while "more" is true.
SYNC_BATCH = 1000

# Conversations an agent socket keeps its access check of (a dashboard works on a few dozen).
KNOWN_CONVERSATIONS = 1000

# Close codes for refused connections (docs/PROTOCOL.md).
CLOSE_NOT_AN_AGENT = 4403
CLOSE_ORIGIN_NOT_ALLOWED = 4403
CLOSE_UNKNOWN_WIDGET = 4404


class SocketRevoked(Exception):
    """The socket's account may no longer use it: tell the client and close."""


def _ref(frame: dict[str, Any]) -> str | int | None:
    ref = frame.get("ref")
    return ref if isinstance(ref, str | int) and not isinstance(ref, bool) else None


class JsonSocket(AsyncWebsocketConsumer):
    """A socket of JSON frames. The contract (sealdesk_client/frames.py) lists the client frames
    this socket takes; each is checked against its schema, then goes to receive_<type> (dots as
    underscores). Channel-layer events are named after the frame they become."""

    socket: ClassVar[str]
    role: ClassVar[str]
    device: Device | None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Hand a frame or channel-layer event to its method, as Channels does, but without
        closing stale database connections first: Channels does that on the database thread,
        so every frame and every broadcast waited behind the database's batch in progress
        (docs/BENCHMARKS.md, issue 14). These sockets touch the database only through
        database_sync_to_async, which does that itself, on that thread."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data.encode() if text_data is not None else bytes_data or b""
        if len(raw) > MAX_FRAME_BYTES:
            await self.send_error(
                "frame_too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes."
            )
            return
        if b"\x00" in raw or b"\\u0000" in raw:
            # No database text holds NUL (PostgreSQL refuses it): refused before any look-up.
            await self.send_error("malformed_frame", "Frames may not hold NUL characters.")
            return
        try:
            frame = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than json parses
            await self.send_error("malformed_frame", "A frame must be one JSON object.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("malformed_frame", "A frame must be a JSON object with a type.")
            return
        if frames.fields_of(self.socket, "client", frame["type"]) is None:
            await self.send_error(
                "unknown_type", f"Unknown frame type {frame['type'][:40]!r}.", frame
            )
            return
        problems = frames.problems(self.socket, "client", frame)
        if problems:
            await self.send_error("malformed_frame", problems[0] + ".", frame)
            return
        handler: Callable[[dict[str, Any]], Awaitable[None]] = getattr(
            self, "receive_" + frame["type"].replace(".", "_")
        )
        try:
            await handler(frame)
        except ChatError as e:
            await self.send_error(e.code, e.detail, frame)
        except Http404:
            await self.send_error("not_found", "No such conversation here.", frame)
        except SocketRevoked:
            await self.send_error("forbidden", "This account may no longer use the dashboard.")
            await self.close(code=CLOSE_NOT_AN_AGENT)
        except DatabaseError:
            # A deadlock or a lost database connection: nothing was stored; the client may retry.
            logger.exception("database error on a %s frame", frame["type"])
            await self.send_error(
                "internal_error", "The server could not do that; try again.", frame
            )

    async def refuse(self, code: int) -> None:
        """Accept, then close with CODE: a handshake refused outright reaches browsers as 1006."""
        await self.accept()
        await self.close(code=code)

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content))

    async def reply(
        self, frame: dict[str, Any], kind: str, conversation: Conversation, **fields: Any
    ) -> None:
        """Answer a client frame about a conversation, carrying the frame's ref."""
        await self.send_json(
            make_frame(kind, conversation=str(conversation.id), **fields, ref=_ref(frame))
        )

    async def send_error(self, code: str, detail: str, frame: dict[str, Any] | None = None) -> None:
        reply = make_frame(frames.ERROR, code=code, detail=detail)
        if frame is not None and _ref(frame) is not None:
            reply["ref"] = _ref(frame)  # lets the client match the error to its request
        await self.send_json(reply)

    # Conversation frames shared by both sides; subclasses say which conversation and device.

    async def conversation_for(self, frame: dict[str, Any]) -> Conversation:
        raise NotImplementedError

    async def known_conversation(self, frame: dict[str, Any]) -> Conversation:
        """Return the frame's conversation for the frames of the chat itself (messages, keys,
        sync, typing), whose actions read only what never changes of it before they lock it:
        by default as conversation_for."""
        return await self.conversation_for(frame)

    def my_device(self) -> Device:
        if self.device is None:
            raise ChatError("unknown_device", "Register this browser's keys first.")
        return self.device

    async def receive_sync(self, frame: dict[str, Any]) -> None:
        conversation = await self.known_conversation(frame)
        after = frame.get("after", 0)
        if after < 0:
            raise ChatError("malformed_frame", "after must be a non-negative integer.")
        events, more = await database_sync_to_async(_events_after)(conversation, after)
        await self.reply(frame, frames.EVENTS, conversation, events=events, more=more)

    async def receive_send(self, frame: dict[str, Any]) -> None:
        conversation = await self.known_conversation(frame)
        event = await group_commit().send(
            conversation, self.my_device(), frame["envelope"], answer=frame.get("answer") is True
        )
        await self.reply(
            frame, frames.SENT, conversation, seq=event.seq, sender_seq=event.sender_seq
        )

    async def receive_epoch(self, frame: dict[str, Any]) -> None:
        conversation = await self.known_conversation(frame)
        event = await database_sync_to_async(messages.do_add_epoch)(
            conversation, self.my_device(), frame["record"], frame.get("wraps", [])
        )
        await self.reply(frame, frames.STORED, conversation, seq=event.seq)

    async def receive_share(self, frame: dict[str, Any]) -> None:
        conversation = await self.known_conversation(frame)
        event = await database_sync_to_async(messages.do_share_history)(
            conversation, self.my_device(), frame["wraps"]
        )
        await self.reply(frame, frames.STORED, conversation, seq=event.seq)

    async def receive_typing(self, frame: dict[str, Any]) -> None:
        conversation = await self.known_conversation(frame)
        await database_sync_to_async(messages.do_typing)(conversation, self.my_device(), self.role)

    # Channel-layer events, each named after the frame it becomes.

    async def event(self, event: dict[str, Any]) -> None:
        """Send a channel-layer event that is a whole frame as it is."""
        await self.send_json(event)

    async def typing(self, event: dict[str, Any]) -> None:
        if self.device is None or event["device"] != self.device.id:
            await self.send_json(
                make_frame(frames.TYPING, conversation=event["conversation"], role=event["role"])
            )


def _events_after(conversation: Conversation, after: int) -> tuple[list[dict[str, Any]], bool]:
    events = list(
        Event.objects.filter(conversation=conversation, seq__gt=after).order_by("seq")[
            : SYNC_BATCH + 1
        ]
    )
    return [event_payload(e) for e in events[:SYNC_BATCH]], len(events) > SYNC_BATCH


class AgentConsumer(JsonSocket):
    """The dashboard socket of one signed-in agent, on one of its registered devices."""

    socket = "agent"
    role = Participant.Role.AGENT
    agent: Agent

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.followed: set[str] = set()
        # The agent as last checked, and the conversations it opened since: kept until an
        # access.changed event says its account, role or tenant changed (chat/actions/
        # accounts.py), not read again for every frame (docs/BENCHMARKS.md, issue 14).
        self.checked = False
        self.known: dict[str, Conversation] = {}

    async def connect(self) -> None:
        agent = await database_sync_to_async(_signed_in_agent)(self.scope)
        if agent is None:
            await self.refuse(CLOSE_NOT_AN_AGENT)
            return
        self.agent = agent
        self.device = await database_sync_to_async(_agent_device)(agent, self.scope)
        self.group = agent_group(agent.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        hello = await database_sync_to_async(_agent_hello)(agent, self.device)
        for conversation in hello["conversations"]:
            await self.follow(conversation["id"])
        await self.accept()
        await self.send_json(hello)
        ensure_sweeper()

    async def follow(self, conversation_id: str) -> None:
        group = conversation_group(conversation_id)
        self.followed.add(group)
        await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        for group in (*self.followed, *([self.group] if hasattr(self, "group") else [])):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def current_agent(self) -> Agent:
        if self.checked:
            return self.agent
        agent = await database_sync_to_async(_agent_now)(self.scope["user"])
        if agent is None or agent.pk != self.agent.pk:
            raise SocketRevoked
        self.agent, self.checked = agent, True
        return self.agent

    async def conversation_for(self, frame: dict[str, Any]) -> Conversation:
        agent = await self.current_agent()
        conversation: Conversation = await database_sync_to_async(access.access_conversation)(
            agent, frame["conversation"]
        )
        if len(self.known) >= KNOWN_CONVERSATIONS:
            self.known.clear()
        self.known[frame["conversation"]] = conversation
        return conversation

    async def known_conversation(self, frame: dict[str, Any]) -> Conversation:
        # An agent keeps access to a conversation it took part in (agents/access.py): the
        # answer stands while the agent's own does.
        known = self.known.get(frame["conversation"]) if self.checked else None
        return known if known is not None else await self.conversation_for(frame)

    async def access_changed(self, event: dict[str, Any]) -> None:
        """The agent's account, role or tenant changed: check it again now, and cut the socket
        off if it may no longer be used."""
        self.checked = False
        self.known.clear()
        try:
            await self.current_agent()
        except SocketRevoked:
            await self.send_error("forbidden", "This account may no longer use the dashboard.")
            await self.close(code=CLOSE_NOT_AN_AGENT)

    async def receive_presence_set(self, frame: dict[str, Any]) -> None:
        agent = await self.current_agent()
        await database_sync_to_async(do_set_presence)(agent, frame["presence"])

    async def receive_offer_accept(self, frame: dict[str, Any]) -> None:
        agent = await self.current_agent()
        await database_sync_to_async(offers.do_accept_offer)(
            agent, self.my_device(), frame["offer"]
        )

    async def receive_offer_decline(self, frame: dict[str, Any]) -> None:
        agent = await self.current_agent()
        await database_sync_to_async(offers.do_decline_offer)(agent, frame["offer"])

    async def receive_close(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        disposition = frame["disposition"]
        if not isinstance(disposition, str) or not disposition:
            raise ChatError("invalid_disposition", "Choose a wrap-up disposition.")
        await database_sync_to_async(lifecycle.do_close_conversation)(
            conversation, self.my_device(), disposition
        )
        await self.reply(frame, frames.CLOSED, conversation)

    async def receive_invite(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        agent = await self.current_agent()
        try:
            invitee = await database_sync_to_async(access.access_agent)(
                self.scope["user"], frame["agent"]
            )
        except Http404:
            raise ChatError("unknown_agent", "No such agent in your organisation.") from None
        offer = await database_sync_to_async(invitations.do_invite)(
            agent, self.my_device(), conversation, invitee, frame["purpose"]
        )
        invitation = await database_sync_to_async(invitation_payload)(offer)
        await self.send_json(make_frame(frames.INVITATION, invitation=invitation, ref=_ref(frame)))

    async def receive_leave(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        agent = await self.current_agent()
        await database_sync_to_async(invitations.do_leave)(
            agent, self.my_device(), conversation, frame["envelope"]
        )
        await self.reply(frame, frames.LEFT, conversation)

    async def receive_transfer(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        agent = await self.current_agent()
        try:
            team = await database_sync_to_async(access.access_team)(
                self.scope["user"], frame["team"]
            )
        except Http404:
            raise ChatError("unknown_team", "There is no such team in your organisation.") from None
        await database_sync_to_async(requeue.do_transfer_to_queue)(
            agent, self.my_device(), conversation, team, frame["envelope"]
        )
        await self.reply(frame, frames.LEFT, conversation)

    async def receive_park(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        agent = await self.current_agent()
        await database_sync_to_async(requeue.do_park)(
            agent, self.my_device(), conversation, frame["envelope"]
        )
        await self.reply(frame, frames.LEFT, conversation)

    async def receive_monitor(self, frame: dict[str, Any]) -> None:
        agent = await self.current_agent()
        conversation = await database_sync_to_async(access.access_supervised_conversation)(
            agent, frame["conversation"]
        )
        conversation = await database_sync_to_async(supervision.do_monitor)(
            agent, self.my_device(), conversation
        )
        await self.send_conversation(frame, conversation)

    async def receive_barge(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        agent = await self.current_agent()
        await database_sync_to_async(supervision.do_barge)(agent, self.my_device(), conversation)
        await self.send_conversation(frame, conversation)

    async def receive_pick_up(self, frame: dict[str, Any]) -> None:
        agent = await self.current_agent()
        found = await database_sync_to_async(access.access_left_message)(
            agent, frame["conversation"]
        )
        conversation = await database_sync_to_async(offline.do_pick_up)(
            agent, self.my_device(), found
        )
        await self.send_conversation(frame, conversation)

    async def messages(self, event: dict[str, Any]) -> None:
        """Send the agent's list of messages left for its teams, which changed: metadata only,
        and which this browser can read (hello carries the first list)."""
        listed = await database_sync_to_async(_messages_of)(self.agent, self.device)
        await self.send_json(make_frame(frames.MESSAGES, messages=listed))

    async def send_conversation(self, frame: dict[str, Any], conversation: Conversation) -> None:
        """Answer FRAME with the conversation as it is now (the socket follows it)."""
        payload = await database_sync_to_async(conversation_payload)(conversation)
        await self.follow(payload["id"])
        await self.send_json(make_frame(frames.CONVERSATION, conversation=payload, ref=_ref(frame)))

    # These go out as they come: the channel-layer event is the frame itself.
    presence = offer = offer_gone = invitation = JsonSocket.event

    async def left(self, event: dict[str, Any]) -> None:
        group = conversation_group(event["conversation"])
        self.followed.discard(group)
        await self.channel_layer.group_discard(group, self.channel_name)
        await self.send_json(event)

    async def conversation(self, event: dict[str, Any]) -> None:
        await self.follow(event["conversation"]["id"])
        await self.send_json(event)


def _signed_in_agent(scope: dict[str, Any]) -> Agent | None:
    """Return the socket's agent if its session signed in completely: with the second factor
    where the person needs one (agents/two_factor.py), else None."""
    agent = access.agent_of(scope["user"])
    if agent is None or not two_factor.verified(scope["user"], scope.get("session")):
        return None
    return agent


def _agent_now(user: AbstractBaseUser) -> Agent | None:
    """Return the user's agent as the database has it now (the socket's user was read when it
    connected), or None if the account may no longer use the dashboard."""
    fresh = get_user_model().objects.filter(pk=user.pk).first()
    return None if fresh is None else access.agent_of(fresh)


def _agent_device(agent: Agent, scope: dict[str, Any]) -> Device | None:
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    device_id = query.get("device", [""])[0]
    if not device_id or "\x00" in device_id:  # no device id holds NUL (nor can PostgreSQL)
        return None
    return Device.objects.filter(pk=device_id, agent=agent, revoked_at__isnull=True).first()


def _messages_of(agent: Agent, device: Device | None) -> list[dict[str, Any]]:
    return [offline.message_payload(c, device) for c in offline.messages_for(agent)]


def _agent_hello(agent: Agent, device: Device | None) -> dict[str, Any]:
    pending = Offer.objects.select_related("conversation__team", "invited_by").filter(
        agent=agent, state=Offer.State.PENDING
    )
    # What this agent asked of others: open invitations, and transfers taken whose giver is
    # still in the chat (its dashboard then finishes the hand-over by leaving).
    asked = Offer.objects.select_related("agent").filter(
        Q(state=Offer.State.PENDING)
        | Q(
            state=Offer.State.ACCEPTED,
            purpose=Offer.Purpose.TRANSFER,
            conversation__state=Conversation.State.ACTIVE,
            conversation__participants__agent=agent,
            conversation__participants__left_at__isnull=True,
        ),
        invited_by=agent,
    )
    return make_frame(
        frames.HELLO,
        agent={"id": agent.pk, "display_name": agent.display_name},
        tenant={"id": agent.tenant.widget_id, "name": agent.tenant.name},
        device=device_payload(device) if device else None,
        org=org_payload(agent.tenant),
        **presence_payload(agent),
        offers=[offer_payload(offer) for offer in pending],
        invitations=[invitation_payload(offer) for offer in asked.distinct()],
        conversations=[conversation_payload(c) for c in access.conversations_for(agent)],
        messages=_messages_of(agent, device),
    )


class CustomerConsumer(JsonSocket):
    """The widget's socket for one conversation, authenticated by its customer token."""

    socket = "widget"
    role = Participant.Role.CUSTOMER
    tenant: Tenant
    chat: Conversation | None = None
    device = None

    async def connect(self) -> None:
        widget_id = self.scope["url_route"]["kwargs"]["widget_id"]
        try:
            self.tenant = await database_sync_to_async(access.access_widget_tenant)(widget_id)
        except Http404:
            await self.refuse(CLOSE_UNKNOWN_WIDGET)
            return
        origin = dict(self.scope.get("headers", [])).get(b"origin", b"").decode(errors="replace")
        if origin not in self.tenant.origin_list():
            await self.refuse(CLOSE_ORIGIN_NOT_ALLOWED)
            return
        await self.accept()
        ensure_sweeper()

    async def disconnect(self, code: int) -> None:
        if self.chat is not None:
            await self.channel_layer.group_discard(
                conversation_group(self.chat.id), self.channel_name
            )
            await self.channel_layer.group_discard(
                queue_group(self.chat.team_id), self.channel_name
            )

    async def receive_auth(self, frame: dict[str, Any]) -> None:
        if self.chat is not None:
            raise ChatError("already_authenticated", "This socket has its conversation.")
        conversation: Conversation = await database_sync_to_async(
            access.access_customer_conversation
        )(self.tenant, frame["conversation"], frame["token"])
        self.chat = conversation
        self.device = conversation.customer_device
        await self.channel_layer.group_add(conversation_group(conversation.id), self.channel_name)
        # Queue positions matter only while waiting: a socket in the queue group costs a query
        # on every change of the team's queue.
        if conversation.state == Conversation.State.QUEUED:
            await self.channel_layer.group_add(queue_group(conversation.team_id), self.channel_name)
        payload, (position, wait) = await database_sync_to_async(_customer_hello)(conversation)
        if payload["state"] != Conversation.State.QUEUED:  # taken just before the group_add
            await self.channel_layer.group_discard(
                queue_group(conversation.team_id), self.channel_name
            )
        await self.send_json(
            make_frame(
                frames.HELLO,
                conversation=payload,
                queue_position=position,
                wait_seconds=wait,
                ref=_ref(frame),
            )
        )

    async def conversation_for(self, frame: dict[str, Any]) -> Conversation:
        if self.chat is None:
            raise ChatError("not_authenticated", "Send an auth frame first.")
        if frame["conversation"] != str(self.chat.id):
            raise ChatError("not_found", "No such conversation here.")
        return self.chat

    async def receive_close(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        await database_sync_to_async(lifecycle.do_close_conversation)(
            conversation, self.my_device()
        )
        await self.reply(frame, frames.CLOSED, conversation)

    async def receive_resume(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        await database_sync_to_async(requeue.do_resume)(conversation, self.my_device())
        position, wait = await database_sync_to_async(_queue_place)(conversation)
        await self.send_json(
            make_frame(frames.QUEUE, position=position, wait_seconds=wait, ref=_ref(frame))
        )

    async def receive_leave_message(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        left = await database_sync_to_async(offline.do_leave_message)(
            conversation, self.my_device()
        )
        payload = await database_sync_to_async(conversation_payload)(left)
        await self.send_json(make_frame(frames.MESSAGE_LEFT, conversation=payload, ref=_ref(frame)))

    async def receive_notify(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        kept = await database_sync_to_async(notices.do_set_notice_email)(
            conversation, self.my_device(), frame["email"]
        )
        await self.reply(frame, frames.NOTIFY_SET, conversation, notify=bool(kept.notify_email))

    async def receive_rate(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        rated = await database_sync_to_async(satisfaction.do_rate_conversation)(
            conversation, self.my_device(), frame["score"]
        )
        await self.reply(frame, frames.RATED, conversation, score=rated.satisfaction)

    async def receive_comment(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        event = await database_sync_to_async(satisfaction.do_comment_rating)(
            conversation, self.my_device(), frame["envelope"]
        )
        await self.reply(
            frame, frames.SENT, conversation, seq=event.seq, sender_seq=event.sender_seq
        )

    async def event(self, event: dict[str, Any]) -> None:
        await self.send_json(event)
        # Back in a queue (a transfer, or a resume): follow its positions, as at the start.
        if event["event"]["kind"] == Event.Kind.QUEUED:
            await self.queued()

    async def queued(self) -> None:
        """Follow the positions of the queue the conversation waits in now (its team may have
        changed), and tell the customer the place."""
        if self.chat is None:
            return
        await self.channel_layer.group_discard(queue_group(self.chat.team_id), self.channel_name)
        self.chat = await database_sync_to_async(_fresh_chat)(self.chat)
        await self.channel_layer.group_add(queue_group(self.chat.team_id), self.channel_name)
        await self.queue({})

    async def queue(self, event: dict[str, Any]) -> None:
        """Tell the customer its place and estimated wait: after the change of the team's queue
        that EVENT names, worked out once for every waiting socket of the process (chat/
        waiting.py), or, with none, looked up for this chat alone."""
        if self.chat is None:
            return
        if "change" in event:
            position, wait = await waiting.queue_places_here().place(
                event["team"], event["change"], str(self.chat.id)
            )
        else:
            position, wait = await database_sync_to_async(_queue_place)(self.chat)
        if position:
            await self.send_json(make_frame(frames.QUEUE, position=position, wait_seconds=wait))
        else:  # taken or closed: no more positions to tell
            await self.channel_layer.group_discard(
                queue_group(self.chat.team_id), self.channel_name
            )


def _fresh_chat(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_related("tenant", "team", "customer_device").get(
        pk=conversation.pk
    )


def _queue_place(conversation: Conversation) -> tuple[int, int | None]:
    """Return the conversation's place in its queue and estimated wait, 0 and None once it is
    taken or closed."""
    fresh = Conversation.objects.only("state", "team", "queued_at", "priority").get(
        pk=conversation.pk
    )
    return waiting.place_of(fresh)


def _customer_hello(conversation: Conversation) -> tuple[dict[str, Any], tuple[int, int | None]]:
    fresh = Conversation.objects.select_related("tenant", "team", "customer_device").get(
        pk=conversation.pk
    )
    return conversation_payload(fresh), waiting.place_of(fresh)
