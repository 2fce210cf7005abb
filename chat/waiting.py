"""Where a waiting customer stands: the place in its team's queue and an estimated wait.

The estimate comes from the team's recent figures only: the median wait (from a chat's start to
its first agent taking it, as the reports count it) of the team's chats taken in the last hour,
at most the latest RECENT_CHATS of them. A customer at place P waits about P times that median,
shared among the team's agents who are available now: a queue served by two agents moves twice
as fast. Without a chat taken in the last hour, or without an agent available, there is no
estimate (None), and the widget says so rather than guess (docs/PROTOCOL.md, "Widget socket").

A change of a team's queue is worked out once, after it committed, and sent to every customer
waiting in it (chat.actions.events.queue_changed); each widget socket picks out its own place.
"""

from datetime import datetime, timedelta
from statistics import median
from typing import Any

from django.utils import timezone

from agents.models import Agent, Team
from chat.models import Conversation
from chat.payloads import queue_position

# The recent figures an estimate is made from: chats taken in this long, at most this many.
RECENT = timedelta(hours=1)
RECENT_CHATS = 20


def recent_wait(team_id: int, now: datetime | None = None) -> float | None:
    """Return the median seconds the team's recently taken chats waited, None without any."""
    since = (now or timezone.now()) - RECENT
    taken = (
        Conversation.objects.filter(
            team_id=team_id,
            accepted_at__gte=since,
            # A message left waits for the next working day: not a wait in the queue.
            message_left_at__isnull=True,
        )
        .order_by("-accepted_at")
        .values_list("created_at", "accepted_at")[:RECENT_CHATS]
    )
    waits = [(accepted - created).total_seconds() for created, accepted in taken if accepted]
    return median(waits) if waits else None


def available_agents(team_id: int) -> int:
    """Return how many of the team's agents are available to take chats now (busy or not: a
    busy one takes the next chat when one of its own ends)."""
    return (
        Team.objects.get(pk=team_id)
        .agents.filter(presence=Agent.Presence.AVAILABLE, user__is_active=True)
        .exclude(role=Agent.Role.SUPERVISOR)
        .count()
    )


def wait_per_place(team_id: int, now: datetime | None = None) -> float | None:
    """Return the estimated seconds of wait per place in the team's queue, None if unknown."""
    wait = recent_wait(team_id, now)
    if wait is None:
        return None
    agents = available_agents(team_id)
    return wait / agents if agents else None


def estimate(position: int, per_place: float | None) -> int | None:
    """Return the estimated wait in whole seconds at POSITION, None if unknown or not waiting."""
    if not position or per_place is None:
        return None
    return round(position * per_place)


def queue_order(team_id: int) -> list[str]:
    """Return the ids of the team's queued conversations in the order the router takes them
    (chat/builtin_router.py: those sent back to the queue first, then the longest waiting)."""
    return [
        str(pk)
        for pk in Conversation.objects.filter(team_id=team_id, state=Conversation.State.QUEUED)
        .order_by("-priority", "queued_at", "pk")
        .values_list("pk", flat=True)
    ]


def queue_event(team_id: int) -> dict[str, Any]:
    """Return what the team's waiting customers are told when its queue changed, worked out
    once for all of them: the queue's order and the wait per place. An empty order still goes
    out: the sockets of chats just taken hear from it that they wait no more."""
    order = queue_order(team_id)
    return {"order": order, "per_place": wait_per_place(team_id) if order else None}


def place_in(event: dict[str, Any], conversation_id: str) -> tuple[int, int | None]:
    """Return a conversation's place and estimated wait from a queue_event (0 and None when
    it no longer waits)."""
    try:
        position = event["order"].index(conversation_id) + 1
    except ValueError:
        return 0, None
    return position, estimate(position, event["per_place"])


def place_of(conversation: Conversation) -> tuple[int, int | None]:
    """Return one conversation's place in its queue and estimated wait (0 and None when it is
    not queued), as its customer hears on connecting or resuming."""
    position = queue_position(conversation)
    if not position:
        return 0, None
    return position, estimate(position, wait_per_place(conversation.team_id))
