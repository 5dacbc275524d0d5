"""Where budget counts live: one counter per budget window, added to atomically.

``counter_store`` picks the backend from RATELIMIT_STORAGE_URI: the machine's SQLite
file (SQLITE_PATH) for ``memory://``, the default (every worker of the machine shares
it, no extra service), Redis for ``redis://`` and ``rediss://`` (every instance shares
it).
"""

from __future__ import annotations

from typing import Protocol

from ..machine_db import MachineDatabase


class BudgetStoreUnavailable(Exception):
    """The store could not be read or written (Redis gone, the file locked too long)."""


class CounterStore(Protocol):
    """Integer counters by key, each gone some time after its ``expires_at`` (Unix time)."""

    def add(self, amount: int, keys: dict[str, float]) -> dict[str, int]:
        """Add ``amount`` (which may be negative) to each key of ``keys`` (key: its
        ``expires_at``) in one atomic step; return each key's new total."""
        ...

    def totals(self, keys: list[str]) -> list[int]:
        """The totals of ``keys``, 0 for a key never added to."""
        ...


def counter_store(storage_uri: str, database: MachineDatabase) -> CounterStore:
    """The store for ``storage_uri`` (RATELIMIT_STORAGE_URI). Nothing is opened yet:
    connections are made on first use, in the worker that uses them."""
    scheme = storage_uri.partition("://")[0].lower()
    if scheme == "memory":
        from .sqlite_store import SqliteCounters

        return SqliteCounters(database)
    if scheme in {"redis", "rediss"}:
        from .redis_store import RedisCounters

        return RedisCounters(storage_uri)
    from ..settings import SettingsError

    raise SettingsError(
        "Token budgets keep their counts in SQLite (RATELIMIT_STORAGE_URI=memory://) or "
        f"Redis (redis://host:6379), not {scheme}://"
    )
