"""Budget counters in Redis, shared by every worker of every instance.

An add is INCRBY and EXPIREAT for each key in one MULTI transaction, so the counters
and their expiries change together, in one round trip. Timeouts are short: a Redis
that is gone costs a request about a second, never a hang, and the refusal then says
budgets cannot be checked.
"""

from __future__ import annotations

import redis

from .store import BudgetStoreUnavailable

TIMEOUT_SECONDS = 1.0


class RedisCounters:
    """A CounterStore in the Redis at ``uri`` (connected on first use)."""

    def __init__(self, uri: str) -> None:
        self._uri = uri
        self._client: redis.Redis | None = None

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self._uri,
                socket_timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
            )
        return self._client

    def add(self, amount: int, keys: dict[str, float]) -> dict[str, int]:
        """Add ``amount`` to every key and make sure each expires: one round trip."""
        try:
            pipe = self._redis().pipeline(transaction=True)
            for key, expires_at in keys.items():
                pipe.incrby(key, amount)
                # Every add to a key names the same end (its window's), so setting it
                # again changes nothing; it only makes sure a new key gets one.
                pipe.expireat(key, int(expires_at) + 1)
            replies = pipe.execute()
        except redis.RedisError as error:
            raise BudgetStoreUnavailable(f"budget Redis: {type(error).__name__}") from error
        return {key: int(total) for key, total in zip(keys, replies[::2], strict=True)}

    def totals(self, keys: list[str]) -> list[int]:
        """The totals of ``keys`` (0 for a key never added to, or expired)."""
        try:
            values = self._redis().mget(keys)
        except redis.RedisError as error:
            raise BudgetStoreUnavailable(f"budget Redis: {type(error).__name__}") from error
        return [int(value) if value is not None else 0 for value in values]
