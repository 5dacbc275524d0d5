"""Budget counters in the machine's SQLite file (streamchat.machine_db), which every
worker of the machine shares.

Each add is one UPSERT statement over every key it touches, atomic in SQLite, so two
workers adding at once both count.
"""

from __future__ import annotations

import sqlite3
import time

from ..machine_db import MachineDatabase
from .store import BudgetStoreUnavailable

# Expired rows are deleted now and then, not on every add.
_SWEEP_EVERY_SECONDS = 300.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS budget_counters (
    key TEXT PRIMARY KEY,
    total INTEGER NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID
"""
# One statement for every key of a reply (its own window and the deployment's): one
# transaction, one write. excluded.* is the row the statement tried to insert.
_ADD = """
INSERT INTO budget_counters (key, total, expires_at) VALUES {rows}
ON CONFLICT (key) DO UPDATE SET
    total = total + excluded.total, expires_at = max(expires_at, excluded.expires_at)
RETURNING key, total
"""


class SqliteCounters:
    """A CounterStore in ``database``."""

    def __init__(self, database: MachineDatabase) -> None:
        self.database = database
        database.needs(_SCHEMA)
        self._swept = 0.0

    def add(self, amount: int, keys: dict[str, float]) -> dict[str, int]:
        """Add ``amount`` to every key in one atomic statement; return the new totals."""
        rows = ",".join("(?, ?, ?)" for _ in keys)
        parameters = [value for key, ends in keys.items() for value in (key, amount, ends)]
        try:
            totals = dict(self.database.query(_ADD.format(rows=rows), tuple(parameters)))
            now = time.time()
            if now - self._swept >= _SWEEP_EVERY_SECONDS:
                self._swept = now
                self.database.query("DELETE FROM budget_counters WHERE expires_at <= ?", (now,))
        except sqlite3.Error as error:
            raise BudgetStoreUnavailable(f"budget file {self.database.path}: {error}") from error
        return totals

    def totals(self, keys: list[str]) -> list[int]:
        """The totals of ``keys`` (0 for a key never added to, or expired)."""
        marks = ",".join("?" * len(keys))
        sql = f"SELECT key, total FROM budget_counters WHERE key IN ({marks}) AND expires_at > ?"
        try:
            found = dict(self.database.query(sql, (*keys, time.time())))
        except sqlite3.Error as error:
            raise BudgetStoreUnavailable(f"budget file {self.database.path}: {error}") from error
        return [found.get(key, 0) for key in keys]
