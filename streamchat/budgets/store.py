"""Where budget counts live: one counter per budget window, added to atomically.

``counter_store`` picks the backend from BUDGET_STORAGE_URI (by default the same as
RATELIMIT_STORAGE_URI): SQLite in the instance folder for ``memory://`` (the default:
every worker of the machine shares one file, no extra service), the named file for
``sqlite:///path``, Redis for ``redis://`` and ``rediss://`` (every instance shares it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class BudgetStoreUnavailable(Exception):
    """The store could not be read or written (Redis gone, the file locked too long)."""


class CounterStore(Protocol):
    """Integer counters by key, each gone some time after ``expires_at`` (Unix time)."""

    def add(self, key: str, amount: int, expires_at: float) -> int:
        """Add ``amount`` (which may be negative) and return the new total."""
        ...

    def totals(self, keys: list[str]) -> list[int]:
        """The totals of ``keys``, 0 for a key never added to."""
        ...


def counter_store(storage_uri: str, instance_path: str) -> CounterStore:
    """The store for ``storage_uri`` (BUDGET_STORAGE_URI). Nothing is opened yet:
    connections are made on first use, in the worker that uses them."""
    scheme, _, rest = storage_uri.partition("://")
    scheme = scheme.lower()
    if scheme in {"memory", "sqlite"}:
        from .sqlite_store import SqliteCounters

        path = Path(rest) if scheme == "sqlite" else Path(instance_path) / "budgets.sqlite3"
        return SqliteCounters(path)
    if scheme in {"redis", "rediss"}:
        from .redis_store import RedisCounters

        return RedisCounters(storage_uri)
    from ..settings import SettingsError

    raise SettingsError(
        "Token budgets keep their counts in SQLite or Redis: set BUDGET_STORAGE_URI to "
        f"sqlite:///path/to/budgets.sqlite3 or redis://host:6379 (RATELIMIT_STORAGE_URI is {scheme}://)"
    )
