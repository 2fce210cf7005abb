"""Websocket consumers: parse, authorise through agents.access, call chat.actions."""

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from agents.access import agent_of
from agents.models import Agent
from chat import actions

# Largest frame a client may send; larger ones get a frame_too_large error (docs/PROTOCOL.md).
MAX_FRAME_BYTES = 64 * 1024

# Close codes for refused connections (docs/PROTOCOL.md).
CLOSE_NOT_AN_AGENT = 4403


class AgentConsumer(AsyncWebsocketConsumer):
    """The dashboard socket of one signed-in agent."""

    agent: Agent

    async def connect(self) -> None:
        agent = await database_sync_to_async(agent_of)(self.scope["user"])
        if agent is None:
            await self.close(code=CLOSE_NOT_AN_AGENT)
            return
        self.agent = agent
        self.group = actions.agent_group(agent.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(
            {
                "type": "hello",
                "agent": {"id": agent.pk, "display_name": agent.display_name},
                "tenant": {"name": agent.tenant.name},
                **actions.presence_payload(agent),
            }
        )

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

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
        if frame["type"] == "presence.set":
            await self.receive_presence_set(frame)
        else:
            await self.send_error("unknown_type", f"Unknown frame type {frame['type'][:40]!r}.")

    async def receive_presence_set(self, frame: dict[str, Any]) -> None:
        presence = frame.get("presence")
        if presence not in Agent.Presence.values:
            choices = ", ".join(Agent.Presence.values)
            await self.send_error("invalid_presence", f"Presence must be one of {choices}.")
            return
        agent = await database_sync_to_async(agent_of)(self.scope["user"])
        if agent is None or agent.pk != self.agent.pk:
            await self.send_error("forbidden", "This account may no longer use the dashboard.")
            await self.close(code=CLOSE_NOT_AN_AGENT)
            return
        await database_sync_to_async(actions.do_set_presence)(agent, presence)

    async def presence_changed(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "presence", "presence": event["presence"], "changed_at": event["changed_at"]}
        )

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content))

    async def send_error(self, code: str, detail: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail})
