"""Messages between instances through Redis, for what one instance must ask another:
a request on a channel (pub/sub: it reaches whoever listens now, or nobody, and says
how many), and an answer on a Redis stream (kept, ordered, read from the last id seen,
so nothing is lost between reads and a reader that reconnects misses nothing).

Used by the runs (streamchat.runs.remote) when a run's owner is on another machine.
Nothing here runs per chunk unless a reader on another instance is attached.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable

import redis

from .interface import StateUnavailable, unavailable

LOG = logging.getLogger("streamchat.state")
# An answer stream lives as long as its reader keeps reading, and this long after.
ANSWER_TTL_SECONDS = 120
_RECONNECT_SECONDS = 1.0


class RedisMessages:
    """Requests by channel and answers by stream in the Redis at ``uri``."""

    def __init__(self, uri: str, timeout_seconds: float = 1.0) -> None:
        self._uri = uri
        self._timeout = timeout_seconds
        self._client: redis.Redis | None = None

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(
                self._uri, socket_timeout=self._timeout, socket_connect_timeout=self._timeout
            )
        return self._client

    def ask(self, channel: str, request: dict) -> int:
        """Publish ``request`` on ``channel``; how many listeners got it (0: nobody)."""
        try:
            return int(self._redis().publish(channel, json.dumps(request)))
        except redis.RedisError as error:
            raise unavailable("redis", error) from error

    def listen(self, channel: str, handle: Callable[[dict], None]) -> None:
        """Call ``handle`` (in a thread of its own) with each request on ``channel``, for
        as long as the process lives; reconnects when Redis goes away."""
        threading.Thread(target=self._listen, args=(channel, handle), daemon=True).start()

    def _listen(self, channel: str, handle: Callable[[dict], None]) -> None:
        while True:
            try:
                client = redis.Redis.from_url(self._uri, socket_connect_timeout=self._timeout)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(channel)
                for message in pubsub.listen():
                    try:
                        request = json.loads(message["data"])
                    except (ValueError, TypeError):
                        continue
                    threading.Thread(target=handle, args=(request,), daemon=True).start()
            except redis.RedisError as error:
                LOG.warning("run_requests_reconnecting", extra={"error": type(error).__name__})
                time.sleep(_RECONNECT_SECONDS)

    def answer(self, key: str, entries: list[bytes]) -> None:
        """Append ``entries`` to the answer stream ``key`` (one round trip)."""
        try:
            pipe = self._redis().pipeline(transaction=False)
            for entry in entries:
                pipe.xadd(key, {b"m": entry})
            pipe.expire(key, ANSWER_TTL_SECONDS)
            pipe.execute()
        except redis.RedisError as error:
            raise unavailable("redis", error) from error

    def read_answer(
        self, key: str, after: bytes, block_seconds: float
    ) -> list[tuple[bytes, bytes]]:
        """The entries of ``key`` after the id ``after`` (``b"0"`` for all), waiting up to
        ``block_seconds`` for one: ``[(id, entry), ...]``, empty when none came."""
        client = self._redis()
        try:
            # Never longer than the socket's own timeout: Redis answers by then.
            wait = min(block_seconds, self._timeout * 0.8)
            found = client.xread({key: after}, block=max(1, int(wait * 1000)), count=512)
        except redis.TimeoutError:
            return []
        except redis.RedisError as error:
            raise unavailable("redis", error) from error
        return [(entry_id, fields[b"m"]) for _, items in found for entry_id, fields in items]

    def mark(self, key: str, seconds: float) -> None:
        """Set ``key`` for ``seconds`` (a reader saying it is still there)."""
        try:
            self._redis().set(key, b"1", ex=max(1, int(seconds)))
        except redis.RedisError as error:
            raise unavailable("redis", error) from error

    def marked(self, key: str) -> bool:
        """Whether ``key`` is still set."""
        try:
            return bool(self._redis().exists(key))
        except redis.RedisError as error:
            raise unavailable("redis", error) from error

    def forget(self, key: str) -> None:
        """Drop the answer stream ``key`` (its reader is done)."""
        with contextlib.suppress(redis.RedisError):  # else it expires anyway
            self._redis().delete(key, key + ":reading")


__all__ = ["RedisMessages", "StateUnavailable"]
