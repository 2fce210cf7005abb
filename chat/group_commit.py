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
import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, connections

from agents.models import Device
from chat.actions import messages
from chat.actions.events import event_frame
from chat.broadcast import conversation_group
from chat.errors import ChatError
from chat.models import Conversation, Event
from contactcenter.channel_layer import GroupSendMany

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
    """The batches of one event loop. Each of WRITERS writers takes every message that arrived
    while it was busy, up to MOST (after WINDOW seconds, if set, to gather more), and writes
    them in one transaction: one writer on SQLite, which writes one transaction at a time
    anyway, several on PostgreSQL, each on its own connection, so that one batch's round trips
    to the database overlap another's."""

    def __init__(self, window: float, most: int, writers: int) -> None:
        self.window = window
        self.most = most
        self.writers = writers
        self.waiting: list[_Request] = []
        self.busy = 0
        self.tasks: set[asyncio.Task[None]] = set()
        # One writer: Channels' database thread, which the rest of the app uses too; several:
        # threads of their own, each keeping a connection of the process's pool.
        self.store = (
            database_sync_to_async(_store)
            if writers == 1
            else database_sync_to_async(_store, thread_sensitive=False, executor=_writers(writers))
        )

    async def send(
        self, conversation: Conversation, device: Device, envelope: object, *, answer: bool
    ) -> Event:
        """Store a device's message with the others of its batch and return its event, once
        committed and broadcast; raise its refusal (ChatError) or the database's error."""
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self.waiting.append(_Request(conversation, device, envelope, answer, future))
        if self.busy < self.writers:
            self.busy += 1
            # A context of its own: the batch holds many sockets' frames, not the first one's.
            task = asyncio.create_task(self._write(), context=contextvars.Context())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await future

    async def _write(self) -> None:
        try:
            while self.waiting:
                if self.window:
                    await asyncio.sleep(self.window)
                batch, self.waiting = self.waiting[: self.most], self.waiting[self.most :]
                try:
                    outcomes = await self.store(batch)
                except asyncio.CancelledError:  # the server stops: the batch fails, not hangs
                    _settle(batch, [DatabaseError("the server is stopping") for _ in batch])
                    raise
                except Exception as e:  # the thread or the connection failed: nothing is known
                    logger.exception("a batch of %d messages failed", len(batch))
                    outcomes = [DatabaseError(str(e)) for _ in batch]
                try:
                    await _broadcast(outcomes)
                finally:
                    _settle(batch, outcomes)
        finally:
            self.busy -= 1
            if not self.busy:  # the last writer was cancelled with requests left
                _settle(
                    self.waiting, [DatabaseError("the server is stopping") for _ in self.waiting]
                )
                self.waiting = []


_WRITER_THREADS: dict[int, ThreadPoolExecutor] = {}


def _writers(count: int) -> ThreadPoolExecutor:
    """Return the process's writer threads, the same for every event loop (tests start one per
    test), so that they hold no more database connections than there are writers."""
    if count not in _WRITER_THREADS:
        _WRITER_THREADS[count] = ThreadPoolExecutor(count, thread_name_prefix="sealdesk-writer")
    return _WRITER_THREADS[count]


def close_writer_connections() -> None:
    """Close the writer threads' database connections (tests, before the test database is
    dropped): one call on each thread, each waiting until all have theirs."""
    for count, threads in _WRITER_THREADS.items():
        everyone = threading.Barrier(count)
        for done in [threads.submit(_close_connections, everyone) for _ in range(count)]:
            done.result()


def _close_connections(everyone: threading.Barrier) -> None:
    connections.close_all()
    everyone.wait(timeout=10)


def _settle(batch: list[_Request], outcomes: list[Outcome]) -> None:
    """Answer each request of BATCH not answered yet (nor given up by its socket)."""
    for request, outcome in zip(batch, outcomes, strict=True):
        if request.future.done():
            continue
        if isinstance(outcome, tuple):
            request.future.set_result(outcome[0])
        else:
            request.future.set_exception(outcome)


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
        # Its commit may have failed only to be heard of (a lost connection on PostgreSQL):
        # then each message is found stored now, as a resend, and was never broadcast. So each
        # stored one is broadcast; clients ignore an event they already have.
        return [
            (outcome[0], True) if isinstance(outcome, tuple) else outcome
            for one in checked
            for outcome in _store_checked([one])
        ]


async def _broadcast(outcomes: list[Outcome]) -> None:
    """Tell each new message's conversation, now that it is stored: all at once, where the
    channel layer can (contactcenter/channel_layer.py), else one after the other."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS has no default layer")
    sends = [
        (conversation_group(outcome[0].conversation_id), event_frame(outcome[0]))
        for outcome in outcomes
        if isinstance(outcome, tuple) and outcome[1]
    ]
    try:
        if isinstance(layer, GroupSendMany):
            await layer.group_send_many(sends)
        else:
            for group, event in sends:
                await layer.group_send(group, event)
    except Exception:
        # The messages are stored and will be acknowledged; clients catch up by sequence
        # number (docs/PROTOCOL.md, "Delivery").
        logger.exception("could not broadcast a batch of %d events", len(sends))


_BATCHES: "WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit]" = WeakKeyDictionary()


def group_commit() -> GroupCommit:
    """Return the running event loop's group commit."""
    loop = asyncio.get_running_loop()
    batches = _BATCHES.get(loop)
    if batches is None:
        batches = _BATCHES[loop] = GroupCommit(
            settings.SEND_BATCH_WINDOW_MS / 1000,
            settings.SEND_BATCH_MOST,
            settings.SEND_BATCH_WRITERS,
        )
    return batches
