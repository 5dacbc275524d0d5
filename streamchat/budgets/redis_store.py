"""Budget counters in Redis, shared by every worker of every instance.

An add is INCRBY and EXPIREAT for each key in one Lua script, so the counters and their
expiries change together, in one round trip. Timeouts are short: a Redis
that is gone costs a request about a second, never a hang, and the refusal then says
budgets cannot be checked.
"""

from __future__ import annotations

import redis

from .store import BudgetStoreUnavailable

TIMEOUT_SECONDS = 1.0
# INCRBY and EXPIREAT for every key, run by Redis as one atomic command: one round trip
# and one reply to parse, where a MULTI pipeline costs twice the client's CPU. Every
# add to a key names the same end (its window's), so setting it again changes nothing.
_ADD = """
local totals = {}
for i, key in ipairs(KEYS) do
    totals[i] = redis.call('INCRBY', key, ARGV[1])
    redis.call('EXPIREAT', key, ARGV[i + 1])
end
return totals
"""


class RedisCounters:
    """A CounterStore in the Redis at ``uri`` (connected on first use)."""

    def __init__(self, uri: str) -> None:
        self._uri = uri
        self._client: redis.Redis | None = None
        self._add: redis.commands.core.Script | None = None

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self._uri,
                socket_timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
            )
        return self._client

    def add(self, amount: int, keys: dict[str, float]) -> dict[str, int]:
        """Add ``amount`` to every key and make sure each expires: one command."""
        if self._add is None:
            self._add = self._redis().register_script(_ADD)
        ends = [int(expires_at) + 1 for expires_at in keys.values()]
        try:
            totals = self._add(keys=list(keys), args=[amount, *ends])
        except redis.RedisError as error:
            raise BudgetStoreUnavailable(f"budget Redis: {type(error).__name__}") from error
        return {key: int(total) for key, total in zip(keys, totals, strict=True)}

    def totals(self, keys: list[str]) -> list[int]:
        """The totals of ``keys`` (0 for a key never added to, or expired)."""
        try:
            values = self._redis().mget(keys)
        except redis.RedisError as error:
            raise BudgetStoreUnavailable(f"budget Redis: {type(error).__name__}") from error
        return [int(value) if value is not None else 0 for value in values]
