"""Throttled guessing: failed sign-ins counted per address and per user name, over a
moving 15 minutes.

With ``RATELIMIT_STORAGE_URI=redis://...`` the counts live in Redis (every worker and
instance counts together); with ``memory://`` in the machine's SQLite file
(streamchat.machine_db), so gunicorn's workers count together too. If Redis goes away,
the machine's file counts meanwhile, logged: sign-in keeps working and guessing stays
bounded on each machine.
"""

from __future__ import annotations

import hashlib
import logging
import math
import sqlite3
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..errors import ApiError
from ..machine_db import MachineDatabase

FAILED_SIGN_INS = parse("10 per 15 minutes")
WINDOW_SECONDS = FAILED_SIGN_INS.get_expiry()
LOG = logging.getLogger("streamchat.identity")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signin_failures (key TEXT NOT NULL, at REAL NOT NULL)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS signin_failures_key ON signin_failures (key, at)"
_INDEX_AT = "CREATE INDEX IF NOT EXISTS signin_failures_at ON signin_failures (at)"


def _refusal(retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"Too many failed sign-ins. Try again in {retry_after} seconds.",
        "rate_limit_error",
        "sign_in_throttled",
        retry_after=retry_after,
    )


class _MachineCounts:
    """Failures as timestamped rows in the machine's file: exact over the moving window."""

    def __init__(self, database: MachineDatabase) -> None:
        self._database = database
        database.needs(_SCHEMA)
        database.needs(_INDEX)
        database.needs(_INDEX_AT)  # the purge of old rows, every key's

    def retry_after(self, key: str, now: float) -> int | None:
        rows = self._database.query(
            "SELECT at FROM signin_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?",
            (key, now - WINDOW_SECONDS, FAILED_SIGN_INS.amount),
        )
        if len(rows) < FAILED_SIGN_INS.amount:
            return None
        # Free again when the oldest of the last ten leaves the window.
        return max(1, math.ceil(rows[-1][0] + WINDOW_SECONDS - now))

    def add(self, key: str, now: float) -> None:
        self._database.query("INSERT INTO signin_failures (key, at) VALUES (?, ?)", (key, now))
        # Every key's old rows, not only this one's: the table holds 15 minutes of
        # failures, however many addresses an attacker uses.
        self._database.query("DELETE FROM signin_failures WHERE at <= ?", (now - WINDOW_SECONDS,))


class _SharedCounts:
    """Failures in the rate-limit storage (Redis), through ``limits``' moving window."""

    def __init__(self, storage_uri: str) -> None:
        # Short timeouts: a Redis that is gone must not hold a sign-in for long.
        storage = storage_from_string(storage_uri, socket_timeout=1, socket_connect_timeout=1)
        self._limiter = MovingWindowRateLimiter(storage)

    def retry_after(self, key: str, now: float) -> int | None:
        if self._limiter.test(FAILED_SIGN_INS, key):
            return None
        reset = self._limiter.get_window_stats(FAILED_SIGN_INS, key).reset_time
        return max(1, math.ceil(reset - now))

    def add(self, key: str, now: float) -> None:
        self._limiter.hit(FAILED_SIGN_INS, key)


class SignInThrottle:
    """At most 10 failed sign-ins per address, and per user name, in any 15 minutes."""

    def __init__(self, storage_uri: str, database: MachineDatabase) -> None:
        self._machine = _MachineCounts(database)
        shared = not storage_uri.lower().startswith("memory://")
        self._shared = _SharedCounts(storage_uri) if shared else None

    @staticmethod
    def _keys(address: str, name: str) -> list[str]:
        # The name hashed: a key in Redis should not list who tried which name.
        hashed = hashlib.sha256(name.casefold().encode("utf-8", "surrogatepass")).hexdigest()
        return [f"signin/address/{address}", f"signin/name/{hashed[:32]}"]

    def _counts(self, action: str, key: str, now: float):
        """Run ``action`` on the shared counts, else (no Redis, or Redis failing) on the
        machine's."""
        if self._shared is not None:
            try:
                return getattr(self._shared, action)(key, now)
            except Exception as error:  # redis-py's and limits' errors share no base
                LOG.error(
                    "signin_throttle_storage_unavailable",
                    extra={"error": type(error).__name__, "counting": "this machine"},
                )
        try:
            return getattr(self._machine, action)(key, now)
        except sqlite3.Error as error:
            LOG.error("signin_throttle_file_unavailable", extra={"error": str(error)})
            raise _refusal(60) from None  # no count at all: refuse rather than allow guessing

    def check(self, address: str, name: str) -> None:
        """Raise a 429 ApiError with Retry-After when either count is used up."""
        now = time.time()
        for key in self._keys(address, name):
            retry_after = self._counts("retry_after", key, now)
            if retry_after is not None:
                raise _refusal(retry_after)

    def failed(self, address: str, name: str) -> None:
        """Count one failed sign-in against the address and the name."""
        now = time.time()
        for key in self._keys(address, name):
            self._counts("add", key, now)
