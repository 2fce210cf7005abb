"""SQLite's write-ahead log, checkpointed beside the writer instead of by it.

By default SQLite copies the log back into the database file (a checkpoint) inside the commit
that grows the log past 1,000 pages, so every few seconds one batch of messages waited for that
copy and its fsync: at half the maximum rate the 99th percentile of delivery was 180 ms instead
of 31 ms without it (docs/BENCHMARKS.md, issue 14). A server process with a sweeper (chat/
sweeper.py) turns that off for its connections and checkpoints every ten seconds on a
connection of its own, which in WAL mode runs alongside the writer. Other processes
(management commands, a shell) keep SQLite's automatic checkpoints.
"""

import sqlite3

from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver

_checkpointing = False


def is_sqlite() -> bool:
    return bool(settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3")


def take_over_checkpoints() -> None:
    """Leave checkpoints to checkpoint(): for this thread's connection now, and for every
    connection this process opens from now on. Runs on the database thread."""
    global _checkpointing  # one switch per process
    _checkpointing = True
    if connection.connection is not None:
        connection.connection.execute("PRAGMA wal_autocheckpoint=0")


@receiver(connection_created)
def _no_automatic_checkpoints(sender: object, connection: object, **kwargs: object) -> None:
    if _checkpointing and getattr(connection, "vendor", "") == "sqlite":
        connection.connection.execute("PRAGMA wal_autocheckpoint=0")  # type: ignore[attr-defined]


def checkpoint(path: str | None = None) -> tuple[int, int]:
    """Copy what the log holds into the database file (PATH, by default the app's), as far as
    readers allow, without stopping the writer (a passive checkpoint), on a connection of its
    own; return the pages in the log and those checkpointed."""
    database = sqlite3.connect(path or settings.DATABASES["default"]["NAME"], timeout=5)
    try:
        _, logged, copied = database.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(logged), int(copied)
    finally:
        database.close()
