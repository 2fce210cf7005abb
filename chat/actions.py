"""Functions that change state and tell the connected clients: write first, broadcast on commit.

Consumers and views only parse, authorise and call these (see ../shared/STYLE.md).
"""

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from agents.models import Agent


def agent_group(agent_id: int) -> str:
    """Return the channel-layer group of every open dashboard socket of one agent."""
    return f"agent.{agent_id}"


def send_on_commit(group: str, event: dict[str, Any]) -> None:
    """Send EVENT to GROUP once the current transaction commits (at once outside one)."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS has no default layer")
    transaction.on_commit(lambda: async_to_sync(layer.group_send)(group, event))


def presence_payload(agent: Agent) -> dict[str, str]:
    """Return the agent's presence as clients receive it."""
    return {"presence": agent.presence, "changed_at": agent.presence_changed_at.isoformat()}


def do_set_presence(agent: Agent, presence: str) -> Agent:
    """Set the agent's presence and tell all of the agent's open dashboards."""
    if presence not in Agent.Presence.values:
        raise ValueError(f"unknown presence {presence!r}")
    with transaction.atomic():
        agent = Agent.objects.select_for_update().get(pk=agent.pk)
        if agent.presence != presence:
            agent.presence = presence
            agent.presence_changed_at = timezone.now()
            agent.save(update_fields=["presence", "presence_changed_at"])
        send_on_commit(
            agent_group(agent.pk), {"type": "presence.changed", **presence_payload(agent)}
        )
    return agent
