"""Throttled guessing: failed sign-ins counted per address and per user name, over a
moving 15 minutes, in the shared-state layer (the machine's SQLite file, or Redis), so
every worker (and, with Redis, every instance) counts together.

When the store cannot answer, sign-in is refused (SignInUnavailable) rather than left
uncounted: the shared-state layer's one policy (streamchat.state).
"""

from __future__ import annotations

import hashlib
import math
import time

from ..errors import Refusal
from ..state import SharedState, StateUnavailable

MAX_FAILURES = 10
WINDOW_SECONDS = 15 * 60
UNAVAILABLE_RETRY_AFTER = 5


class SignInThrottled(Refusal):
    """Too many failed sign-ins from this address or for this name lately."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class SignInUnavailable(Refusal):
    """The failed sign-ins cannot be counted right now, so none are checked."""

    retry_after = UNAVAILABLE_RETRY_AFTER


class SignInThrottle:
    """At most MAX_FAILURES failed sign-ins per address, and per user name, in any
    WINDOW_SECONDS."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    @staticmethod
    def _keys(address: str, name: str) -> list[str]:
        # The name hashed: a key in Redis should not list who tried which name.
        hashed = hashlib.sha256(name.casefold().encode("utf-8", "surrogatepass")).hexdigest()
        return [f"signin/address/{address}", f"signin/name/{hashed[:32]}"]

    def check(self, address: str, name: str) -> None:
        """Raise SignInThrottled when either count is used up (SignInUnavailable when
        the store cannot say)."""
        now = time.time()
        for key in self._keys(address, name):
            try:
                recent = self._state.recent_events(key, now, WINDOW_SECONDS, MAX_FAILURES)
            except StateUnavailable:
                raise SignInUnavailable() from None
            if len(recent) >= MAX_FAILURES:
                # Free again when the oldest of the last MAX_FAILURES leaves the window.
                raise SignInThrottled(max(1, math.ceil(recent[-1] + WINDOW_SECONDS - now)))

    def failed(self, address: str, name: str) -> None:
        """Count one failed sign-in against the address and the name."""
        now = time.time()
        for key in self._keys(address, name):
            try:
                self._state.note_event(key, now, WINDOW_SECONDS)
            except StateUnavailable:
                raise SignInUnavailable() from None
