"""Where a waiting customer stands: the place in its team's queue and an estimated wait.

The estimate comes from the team's recent figures only: the median wait (from a chat's start to
its first agent taking it, as the reports count it) of the team's chats taken in the last hour,
at most the latest RECENT_CHATS of them. A customer at place P waits about P times that median,
shared among the team's agents who are available now: a queue served by two agents moves twice
as fast. Without a chat taken in the last hour, or without an agent available, there is no
estimate (None), and the widget says so rather than guess (docs/PROTOCOL.md, "Widget socket").

A change of a team's queue is announced, after it committed, to every customer waiting in it
(chat.actions.events.queue_changed); the places are worked out once per process (QueuePlaces)
and each widget socket picks out its own.
"""

import asyncio
from collections import OrderedDict
from datetime import datetime, timedelta
from statistics import median
from weakref import WeakKeyDictionary

from channels.db import database_sync_to_async
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


def queue_places(team_id: int) -> tuple[dict[str, int], float | None]:
    """Return the places (from 1) of the team's waiting conversations by id, and the wait per
    place."""
    order = queue_order(team_id)
    places = {conversation: n for n, conversation in enumerate(order, 1)}
    return places, wait_per_place(team_id) if order else None


class QueuePlaces:
    """The places of each queue change, worked out once per process, when its first waiting
    socket asks, and shared by all of them: a change's event names the team and the change,
    not the whole queue, which copied to each of thousands of waiting sockets grew with the
    square of the queue (docs/BENCHMARKS.md, issue 14). The latest KEPT changes are kept."""

    KEPT = 64

    def __init__(self) -> None:
        self.changes: OrderedDict[str, asyncio.Future[tuple[dict[str, int], float | None]]] = (
            OrderedDict()
        )

    async def place(
        self, team_id: int, change: str, conversation_id: str
    ) -> tuple[int, int | None]:
        """Return a conversation's place and estimated wait after CHANGE of its team's queue (0
        and None when it no longer waits)."""
        places = self.changes.get(change)
        if places is None:
            places = asyncio.ensure_future(database_sync_to_async(queue_places)(team_id))
            self.changes[change] = places
            while len(self.changes) > self.KEPT:
                self.changes.popitem(last=False)
        order, per_place = await asyncio.shield(places)
        position = order.get(conversation_id, 0)
        return position, estimate(position, per_place)


_PLACES: "WeakKeyDictionary[asyncio.AbstractEventLoop, QueuePlaces]" = WeakKeyDictionary()


def queue_places_here() -> QueuePlaces:
    """Return the running event loop's QueuePlaces."""
    loop = asyncio.get_running_loop()
    if loop not in _PLACES:
        _PLACES[loop] = QueuePlaces()
    return _PLACES[loop]


def place_of(conversation: Conversation) -> tuple[int, int | None]:
    """Return one conversation's place in its queue and estimated wait (0 and None when it is
    not queued), as its customer hears on connecting or resuming."""
    position = queue_position(conversation)
    if not position:
        return 0, None
    return position, estimate(position, wait_per_place(conversation.team_id))
