"""The SQLite file the workers of one machine share (SQLITE_PATH): one connection per
process, opened on first use, in WAL mode.

Nothing is opened until first use, and each process opens its own connection: a
connection must not cross gunicorn's fork.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

# How long a statement waits for another worker's write lock before it fails. Writes
# here are single short statements, so the wait is normally microseconds. Short on
# purpose: sqlite waits inside C, where gevent cannot switch, so the whole worker (every
# stream and heartbeat it carries) waits with it. A lock held longer than this is
# something else (a stuck process, an open sqlite3 shell): the caller then refuses.
BUSY_TIMEOUT_SECONDS = 0.25


class MachineDatabase:
    """One SQLite file at ``path`` (made, with its folder, on first use), in WAL mode so
    readers go on while one worker writes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._schemas: list[str] = []
        self._lock = threading.Lock()

    def needs(self, schema: str) -> None:
        """Run ``schema`` (``CREATE TABLE IF NOT EXISTS ...``) when the file is opened."""
        self._schemas.append(schema)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,  # autocommit: each statement is its own transaction
                check_same_thread=False,
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            for schema in self._schemas:
                connection.execute(schema)
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    def query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        """Run one statement (atomic on its own) and return its rows. Raises
        ``sqlite3.Error`` when the file cannot be opened or stays locked."""
        with self._lock:
            return self._connect().execute(sql, parameters).fetchall()
