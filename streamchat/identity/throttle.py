"""Throttled guessing: failed sign-ins counted over a moving 15 minutes, in the
shared-state layer (the machine's SQLite file, or Redis), so every worker (and, with
Redis, every instance) counts together.

- A client without a device cookie for the name it tries (streamchat.identity.devices)
  is counted per address and per user name: at most MAX_FAILURES of each.
- A browser with a valid device cookie for that name is counted on its own, per device:
  wrong passwords for the name from elsewhere (which lock the name for unknown clients)
  do not lock it out, and a device that guesses wrong MAX_FAILURES times is locked out
  alone. Its failures do not count against the name or the address.

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
    """Too many failed sign-ins lately from this address, for this name, or from this
    device. ``limit`` says which: ``address``, ``name`` or ``device``."""

    def __init__(self, retry_after: int, limit: str = "address") -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.limit = limit


class SignInUnavailable(Refusal):
    """The failed sign-ins cannot be counted right now, so none are checked."""

    retry_after = UNAVAILABLE_RETRY_AFTER


def _hashed(text: str) -> str:
    # Hashed: a key in Redis should not list who tried which name, or a device's nonce.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class SignInThrottle:
    """At most MAX_FAILURES failed sign-ins per address and per user name (unknown
    clients), or per device (a known browser), in any WINDOW_SECONDS."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    @staticmethod
    def _keys(address: str, name: str, device: str | None) -> list[tuple[str, str]]:
        if device is not None:
            return [("device", f"signin/device/{_hashed(device)}")]
        return [
            ("address", f"signin/address/{address}"),
            ("name", f"signin/name/{_hashed(name.casefold())}"),
        ]

    def check(self, address: str, name: str, device: str | None = None) -> None:
        """Raise SignInThrottled when a count that applies is used up (SignInUnavailable
        when the store cannot say). ``device``: the nonce of a valid device cookie for
        ``name``, else None."""
        now = time.time()
        for limit, key in self._keys(address, name, device):
            try:
                recent = self._state.recent_events(key, now, WINDOW_SECONDS, MAX_FAILURES)
            except StateUnavailable:
                raise SignInUnavailable() from None
            if len(recent) >= MAX_FAILURES:
                # Free again when the oldest of the last MAX_FAILURES leaves the window.
                retry_after = max(1, math.ceil(recent[-1] + WINDOW_SECONDS - now))
                raise SignInThrottled(retry_after, limit)

    def failed(self, address: str, name: str, device: str | None = None) -> None:
        """Count one failed sign-in against the address and the name, or the device."""
        now = time.time()
        for _, key in self._keys(address, name, device):
            try:
                self._state.note_event(key, now, WINDOW_SECONDS)
            except StateUnavailable:
                raise SignInUnavailable() from None
