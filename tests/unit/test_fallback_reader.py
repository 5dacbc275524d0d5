"""streamchat.relay.fallback: the reader used when the fast path (direct_body) cannot be
taken pulls from the upstream only as fast as the client reads, within a small queue."""

from __future__ import annotations

import itertools
import time

from streamchat.relay.fallback import MAX_QUEUED_CHUNKS, with_heartbeats


def test_the_fallback_reader_waits_for_a_slow_client():
    pulled = 0

    def fast_upstream():
        nonlocal pulled
        for _ in itertools.count():
            pulled += 1
            yield b"x" * 1024

    reader = with_heartbeats(fast_upstream(), 60.0)
    next(reader)
    time.sleep(0.5)  # the client reads nothing meanwhile
    assert pulled <= MAX_QUEUED_CHUNKS + 3
    reader.close()
