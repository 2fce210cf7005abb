"""The embedded default's channel layer: Channels' in-memory layer, without its cost per message.

Channels' InMemoryChannelLayer walks every channel and every group membership of the process on
each send to a group and on each receive, to expire old messages and memberships; with a few
thousand sockets that walk was the largest part of a broadcast (docs/BENCHMARKS.md, issue 14).
Here it runs at most once a second, which keeps the expiry's meaning (a channel whose message
waited EXPIRY seconds unread leaves its groups) to within that second; and a group send puts
the message on each member's queue directly instead of starting a task per member.
"""

import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer


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
            try:
                await self.send(channel, message)  # awaits nothing: a put on the channel's queue
            except ChannelFull:
                pass  # as Channels: a full channel misses group messages; clients catch up
