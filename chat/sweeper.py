"""The work each Daphne process does on a timer: checkpoint SQLite's log (contactcenter/
sqlite.py), expire overdue offers, dispatch waiting chats, every ten seconds resume or expire
parked chats whose time came, and, every ten minutes, the housekeeping chores that apps register
(old uploads, for instance).

Every process runs one sweeper; row locks make each change happen once (docs/PROTOCOL.md).
"""

import asyncio
import contextvars
import itertools
import logging
from collections.abc import Callable

from channels.db import database_sync_to_async

from chat.actions.offers import do_expire_offers
from chat.actions.requeue import do_sweep_parked
from chat.router import dispatch_waiting
from contactcenter import sqlite

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0
CHORES_EVERY = 600  # sweeps: every ten minutes
PARKED_EVERY = 10  # sweeps: every ten seconds
CHECKPOINT_EVERY = 10  # sweeps: SQLite's log, about 6 MB at 1,000 messages a second

_chores: list[Callable[[], object]] = []
_sweepers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


def register_chore(chore: Callable[[], object]) -> None:
    """Run CHORE (a function that uses the database) every CHORES_EVERY sweeps."""
    if chore not in _chores:
        _chores.append(chore)


def ensure_sweeper() -> None:
    """Start this process's sweeper on the running event loop, once per loop."""
    loop = asyncio.get_running_loop()
    if loop not in _sweepers:
        # A context of its own: not the request id of the socket that happened to start it.
        _sweepers[loop] = loop.create_task(_sweep_forever(), context=contextvars.Context())


async def _sweep_forever() -> None:
    if sqlite.is_sqlite():
        await database_sync_to_async(sqlite.take_over_checkpoints)()
    for tick in itertools.count(1):
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            if tick % CHECKPOINT_EVERY == 0 and sqlite.is_sqlite():
                await asyncio.to_thread(sqlite.checkpoint)  # not on the database thread
            await database_sync_to_async(do_expire_offers)()
            await database_sync_to_async(dispatch_waiting)()
            if tick % PARKED_EVERY == 0:
                await database_sync_to_async(do_sweep_parked)()
            if tick % CHORES_EVERY == 0:
                for chore in _chores:
                    await database_sync_to_async(chore)()
        except Exception:
            logger.exception("sweep failed; trying again")
