"""The shared-state layer: what the workers of a machine (and, with Redis, every
instance) count together — budget windows and failed sign-ins today.

Two backends with one interface (``SharedState``): the machine's SQLite file
(``machine_state``, the default: no server beyond the app) and Redis (``redis_state``,
with REDIS_URL, for several instances). ``open_shared_state`` picks one.

One policy when the store is down: every operation raises ``StateUnavailable``, and the
caller refuses the request that needed it (503 with Retry-After). Nothing is guessed
and nothing switches store behind the caller's back: a count kept in two places would
let each spend or guess the whole allowance.

It imports only streamchat.settings; budgets and identity import it (runs will too).
"""

from __future__ import annotations

from pathlib import Path

from .interface import SharedState, StateUnavailable
from .machine_file import MachineDatabase


def open_shared_state(redis_url: str | None, sqlite_path: Path) -> SharedState:
    """Redis at ``redis_url`` when set, else the SQLite file at ``sqlite_path``. Nothing
    is connected yet: each worker connects on first use."""
    if redis_url:
        from .redis_state import RedisState

        return RedisState(redis_url)
    from .machine_state import MachineState

    return MachineState(MachineDatabase(sqlite_path))


__all__ = ["MachineDatabase", "SharedState", "StateUnavailable", "open_shared_state"]
