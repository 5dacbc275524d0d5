"""Shared state in Redis, for every worker of every instance.

A counter add is INCRBY and EXPIREAT for each key in one Lua script, so the counters and
their expiries change together in one round trip (a MULTI pipeline costs the client
twice the CPU). Events are a sorted set per key, scored by time. Timeouts are short: a
Redis that is gone costs a request about a second, never a hang.
"""

from __future__ import annotations

import math
import uuid

import redis

from .interface import unavailable

TIMEOUT_SECONDS = 1.0
# Every add to a key names the same end (its window's), so setting it again changes
# nothing.
_ADD = """
local totals = {}
for i, key in ipairs(KEYS) do
    totals[i] = redis.call('INCRBY', key, ARGV[1])
    redis.call('EXPIREAT', key, ARGV[i + 1])
end
return totals
"""
# Add one event, drop the ones older than the window, and let the key go with its last.
_NOTE = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
"""


class RedisState:
    """A SharedState in the Redis at ``uri`` (connected on first use, in each worker)."""

    def __init__(self, uri: str) -> None:
        self._uri = uri
        self._client: redis.Redis | None = None
        self._scripts: dict[str, redis.commands.core.Script] = {}

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self._uri,
                socket_timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
            )
        return self._client

    def _run(self, source: str, keys: list[str], args: list) -> list:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self._redis().register_script(source)
        try:
            return script(keys=keys, args=args)
        except redis.RedisError as error:
            raise unavailable("redis", error) from error

    def add(self, amount: int, keys: dict[str, float]) -> dict[str, int]:
        """Add ``amount`` to every key and make sure each expires: one command."""
        ends = [int(expires_at) + 1 for expires_at in keys.values()]
        totals = self._run(_ADD, list(keys), [amount, *ends])
        return {key: int(total) for key, total in zip(keys, totals, strict=True)}

    def totals(self, keys: list[str]) -> list[int]:
        """The totals of ``keys`` (0 for a key never added to, or expired)."""
        try:
            values = self._redis().mget(keys)
        except redis.RedisError as error:
            raise unavailable("redis", error) from error
        return [int(value) if value is not None else 0 for value in values]

    def note_event(self, key: str, now: float, window_seconds: float) -> None:
        """Add the event to ``key``'s sorted set (a random member: two at the same
        instant are two events)."""
        member = uuid.uuid4().hex
        self._run(_NOTE, [key], [now, member, window_seconds, math.ceil(window_seconds)])

    def recent_events(self, key: str, now: float, window_seconds: float, limit: int) -> list[float]:
        """The newest ``limit`` event times of ``key`` within the window."""
        try:
            found = self._redis().zrevrangebyscore(
                key, "+inf", f"({now - window_seconds}", start=0, num=limit, withscores=True
            )
        except redis.RedisError as error:
            raise unavailable("redis", error) from error
        return [score for _, score in found]
