"""Budget counters in one SQLite file that every worker of the machine shares.

Each add is one UPSERT statement, atomic in SQLite, so two workers adding at once both
count. WAL mode lets readers go on while one writes; a writer waits up to
``BUSY_TIMEOUT_SECONDS`` for another's lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from .store import BudgetStoreUnavailable

BUSY_TIMEOUT_SECONDS = 2.0
# Expired rows are deleted now and then, not on every add.
_SWEEP_EVERY_SECONDS = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS budget_counters (
    key TEXT PRIMARY KEY,
    total INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID
"""
_ADD = """
INSERT INTO budget_counters (key, total, expires_at) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET total = total + ?2, expires_at = max(expires_at, ?3)
RETURNING total
"""


class SqliteCounters:
    """A CounterStore in the file at ``path`` (made, with its folder, on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._swept = 0.0
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        # One connection per process: a connection must not cross a fork.
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
            connection.execute(_SCHEMA)
            self._connection, self._pid = connection, os.getpid()
        return self._connection

    def add(self, key: str, amount: int, expires_at: float) -> int:
        """Add ``amount`` to ``key`` in one atomic statement; return the new total."""
        try:
            with self._lock:
                connection = self._connect()
                (total,) = connection.execute(_ADD, (key, amount, expires_at)).fetchone()
                self._sweep(connection)
        except sqlite3.Error as error:
            raise BudgetStoreUnavailable(f"budget file {self.path}: {error}") from error
        return total

    def totals(self, keys: list[str]) -> list[int]:
        """The totals of ``keys`` (0 for a key never added to, or expired)."""
        marks = ",".join("?" * len(keys))
        try:
            with self._lock:
                rows = self._connect().execute(
                    f"SELECT key, total FROM budget_counters WHERE key IN ({marks})"
                    " AND expires_at > ?",
                    (*keys, time.time()),
                )
                found = dict(rows.fetchall())
        except sqlite3.Error as error:
            raise BudgetStoreUnavailable(f"budget file {self.path}: {error}") from error
        return [found.get(key, 0) for key in keys]

    def _sweep(self, connection: sqlite3.Connection) -> None:
        now = time.time()
        if now - self._swept >= _SWEEP_EVERY_SECONDS:
            self._swept = now
            connection.execute("DELETE FROM budget_counters WHERE expires_at <= ?", (now,))
