"""SQLite's log is checkpointed beside the writer, not inside its commits (issue 14: a commit
that also checkpointed held up its whole batch of messages; contactcenter/sqlite.py).

The test makes its own SQLite file, so it runs the same in both test configurations."""

import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from contactcenter import sqlite


def rows_written(database: sqlite3.Connection, count: int) -> None:
    database.execute("CREATE TABLE IF NOT EXISTS events (body TEXT)")
    for _ in range(count):
        database.execute("INSERT INTO events VALUES (?)", ["x" * 1000])
        database.commit()


def test_a_server_process_leaves_checkpoints_to_its_sweeper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "desk.sqlite3")
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    # Before the sweeper takes over, a new connection checkpoints by itself, as SQLite does.
    monkeypatch.setattr(sqlite, "_checkpointing", False)
    sqlite._no_automatic_checkpoints(None, SimpleNamespace(vendor="sqlite", connection=writer))
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)

    monkeypatch.setattr(sqlite, "_checkpointing", True)
    sqlite._no_automatic_checkpoints(None, SimpleNamespace(vendor="sqlite", connection=writer))
    assert writer.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    # Commits past SQLite's 1,000 pages copy nothing back: the log keeps growing ...
    rows_written(writer, 1500)
    logged, copied = sqlite.checkpoint(path)
    assert logged > 1000
    # ... until the sweeper's checkpoint, on a connection of its own, copies it all while the
    # writer's connection stays open.
    assert copied == logged
    rows_written(writer, 10)
    assert sqlite.checkpoint(path)[0] < 100  # the log starts again from its beginning
    writer.close()
