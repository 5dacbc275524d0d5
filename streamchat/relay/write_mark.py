"""When the relay last sent a byte toward the client: what heartbeats are timed from.

Heartbeats keep routers with idle limits from closing the stream, and each one is when
the view checks that the client is still there. Timing them from the last upstream read
would starve both while the upstream sends bytes that produce no line (SSE comments,
``event:`` lines): the client would get nothing, and a client that left would not be
noticed, for as long as that went on. So the readers time them from this mark, which
the relay moves whenever it sends a line and the readers move when they ask for a
heartbeat.
"""

from __future__ import annotations

import time


class WriteMark:
    """The monotonic time of the last write toward the client (one per stream)."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = time.monotonic()
