"""Shared state in the machine's SQLite file (streamchat.state.machine_file), which every
worker of the machine shares.

Each counter add is one UPSERT statement over every key it touches, atomic in SQLite, so
two workers adding at once both count. Events are timestamped rows: exact over a moving
window.
"""

from __future__ import annotations

import sqlite3
import time

from .interface import unavailable
from .machine_file import MachineDatabase

# Expired counters are deleted now and then, not on every add.
_SWEEP_EVERY_SECONDS = 300.0

_SCHEMAS = (
    """CREATE TABLE IF NOT EXISTS budget_counters (
        key TEXT PRIMARY KEY,
        total INTEGER NOT NULL,
        expires_at REAL NOT NULL
    ) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS signin_failures (key TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS signin_failures_key ON signin_failures (key, at)",
    # For the purge of old rows, every key's.
    "CREATE INDEX IF NOT EXISTS signin_failures_at ON signin_failures (at)",
)
# One statement for every key of a reply (its own window and the deployment's): one
# transaction, one write. excluded.* is the row the statement tried to insert.
_ADD = """
INSERT INTO budget_counters (key, total, expires_at) VALUES {rows}
ON CONFLICT (key) DO UPDATE SET
    total = total + excluded.total, expires_at = max(expires_at, excluded.expires_at)
RETURNING key, total
"""


class MachineState:
    """A SharedState in ``database``."""

    def __init__(self, database: MachineDatabase) -> None:
        self.database = database
        for schema in _SCHEMAS:
            database.needs(schema)
        self._swept = 0.0

    def _query(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        try:
            return self.database.query(sql, parameters)
        except sqlite3.Error as error:
            raise unavailable("sqlite", error) from error

    def add(self, amount: int, keys: dict[str, float]) -> dict[str, int]:
        """Add ``amount`` to every key in one atomic statement; return the new totals."""
        rows = ",".join("(?, ?, ?)" for _ in keys)
        parameters = [value for key, ends in keys.items() for value in (key, amount, ends)]
        totals = dict(self._query(_ADD.format(rows=rows), tuple(parameters)))
        now = time.time()
        if now - self._swept >= _SWEEP_EVERY_SECONDS:
            self._swept = now
            self._query("DELETE FROM budget_counters WHERE expires_at <= ?", (now,))
        return totals

    def totals(self, keys: list[str]) -> list[int]:
        """The totals of ``keys`` (0 for a key never added to, or expired)."""
        marks = ",".join("?" * len(keys))
        sql = f"SELECT key, total FROM budget_counters WHERE key IN ({marks}) AND expires_at > ?"
        found = dict(self._query(sql, (*keys, time.time())))
        return [found.get(key, 0) for key in keys]

    def note_event(self, key: str, now: float, window_seconds: float) -> None:
        """One row for the event; every key's rows older than the window go, so the table
        holds one window of events however many keys an attacker uses."""
        self._query("INSERT INTO signin_failures (key, at) VALUES (?, ?)", (key, now))
        self._query("DELETE FROM signin_failures WHERE at <= ?", (now - window_seconds,))

    def recent_events(self, key: str, now: float, window_seconds: float, limit: int) -> list[float]:
        """The newest ``limit`` event times of ``key`` within the window."""
        rows = self._query(
            "SELECT at FROM signin_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?",
            (key, now - window_seconds, limit),
        )
        return [at for (at,) in rows]
