"""Websocket consumers: parse, authorise through agents.access, call chat.actions.

Frames and error codes are listed in docs/PROTOCOL.md, Part 2.
"""

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import DatabaseError
from django.http import Http404

from agents import access
from agents.models import Agent, Device, Tenant
from chat import actions, router, taskrouter, uploads
from chat.models import Conversation, Event, Offer, Participant

logger = logging.getLogger(__name__)

# Largest frame a client may send; larger ones get a frame_too_large error (docs/PROTOCOL.md).
MAX_FRAME_BYTES = 64 * 1024
# Events in one answer to a sync frame; the client asks again while "more" is true.
SYNC_BATCH = 500

# Close codes for refused connections (docs/PROTOCOL.md).
CLOSE_NOT_AN_AGENT = 4403
CLOSE_ORIGIN_NOT_ALLOWED = 4403
CLOSE_UNKNOWN_WIDGET = 4404

SWEEP_SECONDS = 1.0
CLEAN_UPLOADS_EVERY = 600  # sweeps: every ten minutes
_sweepers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


def ensure_offer_sweeper() -> None:
    """Expire overdue offers and re-dispatch waiting chats from this process, once per loop.

    Every Daphne process runs one; row locks make the work happen once (docs/PROTOCOL.md).
    """
    loop = asyncio.get_running_loop()
    if loop not in _sweepers:
        _sweepers[loop] = loop.create_task(_sweep_forever())


async def _sweep_forever() -> None:
    for tick in itertools.count(1):
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await database_sync_to_async(actions.do_expire_offers)()
            await database_sync_to_async(router.dispatch_waiting)()
            if tick % CLEAN_UPLOADS_EVERY == 0:
                await database_sync_to_async(uploads.do_clean_abandoned_uploads)()
                await database_sync_to_async(taskrouter.forget_old_callbacks)()
        except Exception:
            logger.exception("sweep failed; trying again")


class SocketRevoked(Exception):
    """The socket's account may no longer use it: tell the client and close."""


class FrameError(Exception):
    """A frame refused before it reached an action."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _field(frame: dict[str, Any], name: str, kind: type) -> Any:
    value = frame.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise FrameError("malformed_frame", f"{name} is missing or of the wrong type.")
    return value


class JsonSocket(AsyncWebsocketConsumer):
    """A socket of JSON frames, each routed to receive_<type> by the table `frames`."""

    frames: ClassVar[dict[str, str]] = {}

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data.encode() if text_data is not None else bytes_data or b""
        if len(raw) > MAX_FRAME_BYTES:
            await self.send_error(
                "frame_too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes."
            )
            return
        try:
            frame = json.loads(raw)
        except ValueError:
            await self.send_error("malformed_frame", "A frame must be one JSON object.")
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_error("malformed_frame", "A frame must be a JSON object with a type.")
            return
        handler_name = self.frames.get(frame["type"])
        if handler_name is None:
            await self.send_error("unknown_type", f"Unknown frame type {frame['type'][:40]!r}.")
            return
        handler: Callable[[dict[str, Any]], Awaitable[None]] = getattr(self, handler_name)
        try:
            await handler(frame)
        except (FrameError, actions.ChatError) as e:
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
            {"type": kind, "conversation": str(conversation.id), **fields, "ref": frame.get("ref")}
        )

    async def send_error(self, code: str, detail: str, frame: dict[str, Any] | None = None) -> None:
        reply: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if frame is not None and isinstance(frame.get("ref"), str | int):
            reply["ref"] = frame["ref"]  # lets the client match the error to its request
        await self.send_json(reply)

    # Conversation frames shared by both sides; subclasses say which conversation and device.

    async def conversation_for(self, frame: dict[str, Any]) -> Conversation:
        raise NotImplementedError

    device: Device | None

    def my_device(self) -> Device:
        if self.device is None:
            raise FrameError("unknown_device", "Register this browser's keys first.")
        return self.device

    async def receive_sync(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        after = frame.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise FrameError("malformed_frame", "after must be a non-negative integer.")
        events, more = await database_sync_to_async(_events_after)(conversation, after)
        await self.reply(frame, "events", conversation, events=events, more=more)

    async def receive_send(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        event = await database_sync_to_async(actions.do_send_message)(
            conversation, self.my_device(), frame.get("envelope")
        )
        await self.reply(frame, "sent", conversation, seq=event.seq, sender_seq=event.sender_seq)

    async def receive_epoch(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        event = await database_sync_to_async(actions.do_add_epoch)(
            conversation, self.my_device(), frame.get("record"), frame.get("wraps", [])
        )
        await self.reply(frame, "stored", conversation, seq=event.seq)

    async def receive_share(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        event = await database_sync_to_async(actions.do_share_history)(
            conversation, self.my_device(), frame.get("wraps")
        )
        await self.reply(frame, "stored", conversation, seq=event.seq)

    async def receive_typing(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        await database_sync_to_async(actions.do_typing)(conversation, self.my_device(), self.role)

    role: str

    async def conversation_event(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "event", "conversation": event["conversation"], "event": event["event"]}
        )

    async def conversation_typing(self, event: dict[str, Any]) -> None:
        if self.device is None or event["device"] != self.device.id:
            await self.send_json(
                {"type": "typing", "conversation": event["conversation"], "role": event["role"]}
            )


def _events_after(conversation: Conversation, after: int) -> tuple[list[dict[str, Any]], bool]:
    events = list(
        Event.objects.filter(conversation=conversation, seq__gt=after).order_by("seq")[
            : SYNC_BATCH + 1
        ]
    )
    return [actions.event_payload(e) for e in events[:SYNC_BATCH]], len(events) > SYNC_BATCH


class AgentConsumer(JsonSocket):
    """The dashboard socket of one signed-in agent, on one of its registered devices."""

    role = Participant.Role.AGENT
    frames: ClassVar[dict[str, str]] = {
        "presence.set": "receive_presence_set",
        "offer.accept": "receive_offer_accept",
        "offer.decline": "receive_offer_decline",
        "sync": "receive_sync",
        "send": "receive_send",
        "epoch": "receive_epoch",
        "share": "receive_share",
        "typing": "receive_typing",
        "close": "receive_close",
    }
    agent: Agent

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.followed: set[str] = set()

    async def connect(self) -> None:
        agent = await database_sync_to_async(access.agent_of)(self.scope["user"])
        if agent is None:
            await self.refuse(CLOSE_NOT_AN_AGENT)
            return
        self.agent = agent
        self.device = await database_sync_to_async(_agent_device)(agent, self.scope)
        self.group = actions.agent_group(agent.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        hello = await database_sync_to_async(_agent_hello)(agent, self.device)
        for conversation in hello["conversations"]:
            await self.follow(conversation["id"])
        await self.accept()
        await self.send_json(hello)
        ensure_offer_sweeper()

    async def follow(self, conversation_id: str) -> None:
        group = actions.conversation_group(conversation_id)
        self.followed.add(group)
        await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        for group in (*self.followed, *([self.group] if hasattr(self, "group") else [])):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def current_agent(self) -> Agent:
        agent: Agent | None = await database_sync_to_async(access.agent_of)(self.scope["user"])
        if agent is None or agent.pk != self.agent.pk:
            raise SocketRevoked
        return agent

    async def conversation_for(self, frame: dict[str, Any]) -> Conversation:
        agent = await self.current_agent()
        conversation_id = _field(frame, "conversation", str)
        conversation: Conversation = await database_sync_to_async(access.access_conversation)(
            agent, conversation_id
        )
        return conversation

    async def receive_presence_set(self, frame: dict[str, Any]) -> None:
        presence = frame.get("presence")
        if presence not in Agent.Presence.values:
            choices = ", ".join(Agent.Presence.values)
            raise FrameError("invalid_presence", f"Presence must be one of {choices}.")
        agent = await self.current_agent()
        await database_sync_to_async(actions.do_set_presence)(agent, presence)

    async def receive_offer_accept(self, frame: dict[str, Any]) -> None:
        agent = await self.current_agent()
        await database_sync_to_async(actions.do_accept_offer)(
            agent, self.my_device(), frame.get("offer")
        )

    async def receive_offer_decline(self, frame: dict[str, Any]) -> None:
        agent = await self.current_agent()
        await database_sync_to_async(actions.do_decline_offer)(agent, frame.get("offer"))

    async def receive_close(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        disposition = frame.get("disposition")
        if not isinstance(disposition, str) or not disposition:
            raise FrameError("invalid_disposition", "Choose a wrap-up disposition.")
        await database_sync_to_async(actions.do_close_conversation)(
            conversation, self.my_device(), disposition
        )
        await self.reply(frame, "closed", conversation)

    async def presence_changed(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "presence", "presence": event["presence"], "changed_at": event["changed_at"]}
        )

    async def offer_new(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "offer", "offer": event["offer"]})

    async def offer_gone(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "offer.gone", "offer": event["offer"], "reason": event["reason"]}
        )

    async def conversation_assigned(self, event: dict[str, Any]) -> None:
        await self.follow(event["conversation"]["id"])
        await self.send_json({"type": "conversation", "conversation": event["conversation"]})


def _agent_device(agent: Agent, scope: dict[str, Any]) -> Device | None:
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    device_id = query.get("device", [""])[0]
    if not device_id:
        return None
    return Device.objects.filter(pk=device_id, agent=agent, revoked_at__isnull=True).first()


def _agent_hello(agent: Agent, device: Device | None) -> dict[str, Any]:
    offers = Offer.objects.select_related("conversation__team").filter(
        agent=agent, state=Offer.State.PENDING
    )
    return {
        "type": "hello",
        "agent": {"id": agent.pk, "display_name": agent.display_name},
        "tenant": {"id": agent.tenant.widget_id, "name": agent.tenant.name},
        "device": actions.device_payload(device) if device else None,
        **actions.presence_payload(agent),
        "offers": [actions.offer_payload(offer) for offer in offers],
        "conversations": [actions.conversation_payload(c) for c in access.conversations_for(agent)],
    }


class CustomerConsumer(JsonSocket):
    """The widget's socket for one conversation, authenticated by its customer token."""

    role = Participant.Role.CUSTOMER
    frames: ClassVar[dict[str, str]] = {
        "auth": "receive_auth",
        "sync": "receive_sync",
        "send": "receive_send",
        "epoch": "receive_epoch",
        "share": "receive_share",
        "typing": "receive_typing",
        "close": "receive_close",
    }
    tenant: Tenant
    conversation: Conversation | None = None
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
        ensure_offer_sweeper()

    async def disconnect(self, code: int) -> None:
        if self.conversation is not None:
            await self.channel_layer.group_discard(
                actions.conversation_group(self.conversation.id), self.channel_name
            )
            await self.channel_layer.group_discard(
                actions.queue_group(self.conversation.team_id), self.channel_name
            )

    async def receive_auth(self, frame: dict[str, Any]) -> None:
        if self.conversation is not None:
            raise FrameError("already_authenticated", "This socket has its conversation.")
        conversation: Conversation = await database_sync_to_async(
            access.access_customer_conversation
        )(self.tenant, frame.get("conversation"), frame.get("token"))
        self.conversation = conversation
        self.device = conversation.customer_device
        await self.channel_layer.group_add(
            actions.conversation_group(conversation.id), self.channel_name
        )
        # Queue positions matter only while waiting: a socket in the queue group costs a query
        # on every change of the team's queue.
        if conversation.state == Conversation.State.QUEUED:
            await self.channel_layer.group_add(
                actions.queue_group(conversation.team_id), self.channel_name
            )
        payload, position = await database_sync_to_async(_customer_hello)(conversation)
        if payload["state"] != Conversation.State.QUEUED:  # taken just before the group_add
            await self.channel_layer.group_discard(
                actions.queue_group(conversation.team_id), self.channel_name
            )
        await self.send_json(
            {
                "type": "hello",
                "conversation": payload,
                "queue_position": position,
                "ref": frame.get("ref"),
            }
        )

    async def conversation_for(self, frame: dict[str, Any]) -> Conversation:
        if self.conversation is None:
            raise FrameError("not_authenticated", "Send an auth frame first.")
        if frame.get("conversation") != str(self.conversation.id):
            raise FrameError("not_found", "No such conversation here.")
        return self.conversation

    async def receive_close(self, frame: dict[str, Any]) -> None:
        conversation = await self.conversation_for(frame)
        await database_sync_to_async(actions.do_close_conversation)(conversation, self.my_device())
        await self.reply(frame, "closed", conversation)

    async def queue_changed(self, event: dict[str, Any]) -> None:
        if self.conversation is None:
            return
        payload, position = await database_sync_to_async(_customer_hello)(self.conversation)
        if payload["state"] == Conversation.State.QUEUED:
            await self.send_json({"type": "queue", "position": position})
        else:  # taken or closed: no more positions to tell
            await self.channel_layer.group_discard(
                actions.queue_group(self.conversation.team_id), self.channel_name
            )


def _customer_hello(conversation: Conversation) -> tuple[dict[str, Any], int]:
    fresh = Conversation.objects.select_related("tenant", "team", "customer_device", "agent").get(
        pk=conversation.pk
    )
    return actions.conversation_payload(fresh), actions.queue_position(fresh)
