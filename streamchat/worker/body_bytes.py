"""The request body bytes this worker is reading and holding at once, up to
MAX_BODY_BYTES_IN_FLIGHT (docs/architecture.md, "Request lifecycle").

A body is read whole before its request takes a stream place, and a request carrying
images may be tens of megabytes (parsed, checked, then sent upstream: a few copies of
it live meanwhile). Without a bound, twenty clients uploading at once would hold twenty
such bodies in one worker. A request takes its body's size here before a byte of it is
read (its Content-Length, or the largest body allowed when it is sent chunked) and gives
it back once its upstream request is sent or it is refused; past the bound it is
refused at once (503), never queued.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import Refusal

# Bodies are read in well under a second on any working link: one is likely free soon.
BODIES_BUSY_RETRY_AFTER_SECONDS = 2


class BodiesBusy(Refusal):
    """This worker already reads (or holds) MAX_BODY_BYTES_IN_FLIGHT of request bodies."""

    retry_after = BODIES_BUSY_RETRY_AFTER_SECONDS


class BodyBytes:
    """Counts the body bytes taken by this worker's requests, within ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0
        self._lock = threading.Lock()

    @contextmanager
    def held(self, size: int) -> Iterator[None]:
        """Hold ``size`` bytes for the block; BodiesBusy when they do not fit."""
        with self._lock:
            if self.taken + size > self.limit:
                raise BodiesBusy()
            self.taken += size
        try:
            yield
        finally:
            with self._lock:
                self.taken -= size
