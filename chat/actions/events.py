"""A conversation's log: events numbered under the conversation's lock, broadcast on commit."""

import uuid
from typing import Any

from django.db import transaction

from agents.models import Device
from chat.broadcast import conversation_group, queue_group, send_on_commit
from chat.models import Conversation, Event
from chat.payloads import event_payload
from sealdesk_client.frames import EVENT, QUEUE, frame


def lock_conversation(conversation: Conversation) -> Conversation:
    """Return the conversation fresh from the database, locked until the transaction ends.

    Locks are taken in one order everywhere: conversation, then agent, then offer.
    """
    assert transaction.get_connection().in_atomic_block, "lock inside a transaction"  # noqa: S101
    # Only the tenant comes along: every action needs it, and each join more costs a message's
    # send measurable time to compile (docs/BENCHMARKS.md).
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("tenant")
        .get(pk=conversation.pk)
    )


def append_event(
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
    send_on_commit(conversation_group(conversation.id), event_frame(event))
    return event


def event_frame(event: Event) -> dict[str, Any]:
    """Return the frame that tells a conversation's sockets of one of its events."""
    return frame(EVENT, conversation=str(event.conversation_id), event=event_payload(event))


def queue_changed(team_id: int) -> None:
    """Tell a team's waiting customers, on commit, their places and estimated waits: worked out
    once for all of them (chat/waiting.py), each widget socket picks out its own."""
    transaction.on_commit(lambda: _tell_queue(team_id), robust=True)


def _tell_queue(team_id: int) -> None:
    # Which change, not the queue itself: each process works the places out once (waiting.py).
    send_on_commit(queue_group(team_id), frame(QUEUE, team=team_id, change=uuid.uuid4().hex))
