"""Throttled guessing: failed sign-ins counted per address and per user name in the
rate-limit storage (``RATELIMIT_STORAGE_URI``), so with Redis every worker and instance
counts together."""

from __future__ import annotations

import hashlib
import math
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ..errors import ApiError

FAILED_SIGN_INS = parse("10 per 15 minutes")


class SignInThrottle:
    """At most 10 failed sign-ins per address, and per user name, in any 15 minutes."""

    def __init__(self, storage_uri: str) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @staticmethod
    def _keys(address: str, name: str) -> list[str]:
        # The name hashed: a key in Redis should not list who tried which name.
        hashed = hashlib.sha256(name.casefold().encode("utf-8", "surrogatepass")).hexdigest()
        return [f"signin/address/{address}", f"signin/name/{hashed[:32]}"]

    def check(self, address: str, name: str) -> None:
        """Raise a 429 ApiError with Retry-After when either count is used up."""
        for key in self._keys(address, name):
            if not self._limiter.test(FAILED_SIGN_INS, key):
                reset = self._limiter.get_window_stats(FAILED_SIGN_INS, key).reset_time
                retry_after = max(1, math.ceil(reset - time.time()))
                raise ApiError(
                    429,
                    f"Too many failed sign-ins. Try again in {retry_after} seconds.",
                    "rate_limit_error",
                    "sign_in_throttled",
                    retry_after=retry_after,
                )

    def failed(self, address: str, name: str) -> None:
        """Count one failed sign-in against the address and the name."""
        for key in self._keys(address, name):
            self._limiter.hit(FAILED_SIGN_INS, key)
