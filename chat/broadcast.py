"""Channel-layer groups, and sending to them once a change has committed.

An event sent to a group is named after the frame it becomes on the wire (the contract in
sealdesk_client/frames.py), and the consumer method that turns it into that frame has the same
name, dots as underscores.
"""

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


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
