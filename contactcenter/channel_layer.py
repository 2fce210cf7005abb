"""The channel layers: Channels' in-memory one without its cost per message for the embedded
default, and channels_redis's pub/sub one for scale-out; both send a batch of group messages
at once (group_send_many, for chat/group_commit.py).

Channels' InMemoryChannelLayer walks every channel and every group membership of the process on
each send to a group and on each receive, to expire old messages and memberships; with a few
thousand sockets that walk was the largest part of a broadcast (docs/BENCHMARKS.md, issue 14).
Here it runs at most once a second, which keeps the expiry's meaning (a channel whose message
waited EXPIRY seconds unread leaves its groups) to within that second; and a group send puts
the message on each member's queue directly instead of starting a task per member.
"""

import asyncio
import contextlib
import time
from typing import Any, Protocol, runtime_checkable

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer


@runtime_checkable
class GroupSendMany(Protocol):
    """A layer that sends many (group, message) pairs in one call."""

    async def group_send_many(self, sends: list[tuple[str, dict[str, Any]]]) -> None: ...


class ProcessChannelLayer(InMemoryChannelLayer):
    """The in-memory layer of one process, with its expiry walk at most every CLEAN_EVERY s."""

    clean_every = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_clean:
            return
        self._next_clean = now + self.clean_every
        super()._clean_expired()

    async def flush(self) -> None:
        await super().flush()
        self._next_clean = 0.0

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"  # noqa: S101 (as Channels)
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            # As Channels: a full channel misses group messages; its clients catch up later.
            with contextlib.suppress(ChannelFull):
                await self.send(channel, message)  # awaits nothing: a put on the channel's queue

    async def group_send_many(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        """Send each message to its group, in order (each send is a put on queues)."""
        for group, message in sends:
            await self.group_send(group, message)


class ScaleOutChannelLayer(RedisPubSubChannelLayer):
    """channels_redis's pub/sub layer, whose group_send publishes one message per round trip
    to Redis: a batch's messages are published together, their round trips overlapping."""

    async def group_send_many(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        await asyncio.gather(*(self.group_send(group, message) for group, message in sends))
