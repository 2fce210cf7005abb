"""Group commit: the messages that a process's sockets send while the database is busy with
earlier ones are stored together, in one transaction, and acknowledged together once it has
committed (docs/BENCHMARKS.md, issue 14).

Every guarantee of one message at a time holds: a message is broadcast and acknowledged only
once its transaction has committed; a socket sends its next frame only once this one is
answered, so each sender's messages stay in order; refusals are per message; and a batch the
database refuses as a whole is stored again one message at a time, so that one bad message
costs the others nothing.
"""

import asyncio
import logging
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError

from agents.models import Device
from chat.actions import messages
from chat.actions.events import event_frame
from chat.broadcast import conversation_group
from chat.errors import ChatError
from chat.models import Conversation, Event

logger = logging.getLogger(__name__)


@dataclass
class _Request:
    conversation: Conversation
    device: Device
    envelope: object
    answer: bool
    future: "asyncio.Future[Event]"


Outcome = tuple[Event, bool] | ChatError | DatabaseError


class GroupCommit:
    """The batches of one event loop: at most one is being written at any time, and the next
    one takes every message that arrived meanwhile, up to MOST (after WINDOW seconds, if set,
    to gather more)."""

    def __init__(self, window: float, most: int) -> None:
        self.window = window
        self.most = most
        self.waiting: list[_Request] = []
        self.writer: asyncio.Task[None] | None = None

    async def send(
        self, conversation: Conversation, device: Device, envelope: object, *, answer: bool
    ) -> Event:
        """Store a device's message with the others of its batch and return its event, once
        committed and broadcast; raise its refusal (ChatError) or the database's error."""
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self.waiting.append(_Request(conversation, device, envelope, answer, future))
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self.waiting:
                if self.window:
                    await asyncio.sleep(self.window)
                batch, self.waiting = self.waiting[: self.most], self.waiting[self.most :]
                try:
                    outcomes = await database_sync_to_async(_store)(batch)
                except Exception as e:  # the thread or the connection failed: nothing is known
                    logger.exception("a batch of %d messages failed", len(batch))
                    outcomes = [DatabaseError(str(e))] * len(batch)
                await _broadcast(outcomes)
                for request, outcome in zip(batch, outcomes, strict=True):
                    if request.future.done():  # its socket closed meanwhile
                        continue
                    if isinstance(outcome, tuple):
                        request.future.set_result(outcome[0])
                    else:
                        request.future.set_exception(outcome)
        finally:
            self.writer = None
            for request in self.waiting:  # cancelled with requests left: they fail, not hang
                if not request.future.done():
                    request.future.set_exception(DatabaseError("the server is stopping"))
            self.waiting = []


def _store(batch: list[_Request]) -> list[Outcome]:
    """Check each message, then store those that passed in one transaction; if the database
    refuses that, store them one by one."""
    outcomes: list[Outcome | None] = []
    checked: list[messages.Outgoing] = []
    for request in batch:
        try:
            checked.append(
                messages.check_message(
                    request.conversation, request.device, request.envelope, answer=request.answer
                )
            )
            outcomes.append(None)
        except ChatError as refusal:
            outcomes.append(refusal)
    stored = iter(_store_checked(checked))
    return [next(stored) if outcome is None else outcome for outcome in outcomes]


def _store_checked(checked: list[messages.Outgoing]) -> list[Outcome]:
    if not checked:
        return []
    try:
        return list(messages.do_store_messages(checked))
    except DatabaseError as e:
        if len(checked) == 1:
            return [e]
        logger.warning(
            "a batch of %d messages failed (%s); storing them one by one", len(checked), e
        )
        return [outcome for one in checked for outcome in _store_checked([one])]


async def _broadcast(outcomes: list[Outcome]) -> None:
    """Tell each new message's conversation, now that it is stored."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS has no default layer")
    for outcome in outcomes:
        if isinstance(outcome, tuple) and outcome[1]:
            event = outcome[0]
            try:
                await layer.group_send(
                    conversation_group(event.conversation_id), event_frame(event)
                )
            except Exception:
                # The message is stored and will be acknowledged; clients catch up by sequence
                # number (docs/PROTOCOL.md, "Delivery").
                logger.exception("could not broadcast event %s", event.seq)


_BATCHES: "WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit]" = WeakKeyDictionary()


def group_commit() -> GroupCommit:
    """Return the running event loop's group commit."""
    loop = asyncio.get_running_loop()
    batches = _BATCHES.get(loop)
    if batches is None:
        batches = _BATCHES[loop] = GroupCommit(
            settings.SEND_BATCH_WINDOW_MS / 1000, settings.SEND_BATCH_MOST
        )
    return batches
