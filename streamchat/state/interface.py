"""What a shared-state backend offers (``SharedState``) and how it fails
(``StateUnavailable``)."""

from __future__ import annotations

import logging
from typing import Protocol

LOG = logging.getLogger("streamchat.state")


class StateUnavailable(Exception):
    """The shared store could not be read or written (Redis gone, the file locked too
    long). The message names the backend and the error's type, never a URL."""


class SharedState(Protocol):
    """Counters and moving-window event counts, shared by every worker that opens the
    same store. Every method raises StateUnavailable when the store cannot answer."""

    def add(self, amount: int, keys: dict[str, float]) -> dict[str, int]:
        """Add ``amount`` (which may be negative) to each key of ``keys`` (key: its
        ``expires_at``, Unix time) in one atomic step; return each key's new total."""
        ...

    def totals(self, keys: list[str]) -> list[int]:
        """The totals of ``keys``, 0 for a key never added to or expired."""
        ...

    def note_event(self, key: str, now: float, window_seconds: float) -> None:
        """Record one event for ``key`` at ``now``; events older than the window go."""
        ...

    def recent_events(self, key: str, now: float, window_seconds: float, limit: int) -> list[float]:
        """The times of ``key``'s events in the last ``window_seconds``, newest first, at
        most ``limit`` of them."""
        ...


def unavailable(backend: str, error: Exception) -> StateUnavailable:
    """The StateUnavailable for ``error`` from ``backend``, logged once here: every
    refusal that follows is explained by this line."""
    LOG.error("shared_state_unavailable", extra={"backend": backend, "error": type(error).__name__})
    return StateUnavailable(f"{backend}: {type(error).__name__}")
