"""The streams one worker is relaying right now (its runs), up to its limit, and ending
them when it shuts down."""

from __future__ import annotations

import threading
from typing import Protocol


class Endable(Protocol):
    """What the registry needs of a stream (streamchat.runs.Run)."""

    readers: int  # connections reading it now

    def end_for_shutdown(self) -> None: ...


class OpenStreams:
    """Counts the open streams of this worker process, admits new ones up to a limit,
    and drains them on shutdown.

    A request takes a place (``reserve``) before it opens its upstream, so requests that
    are still connecting count too: a burst cannot overshoot the limit while the first
    upstream connections are being made.
    """

    def __init__(self) -> None:
        self._streams: set[Endable] = set()
        self._reserved = 0
        self._lock = threading.Lock()
        self.draining = False
        self._ending = False  # end_all has run: streams that open later end at once

    def __len__(self) -> int:
        return len(self._streams) + self._reserved

    def reserve(self, limit: int) -> bool:
        """Take a place for a stream about to open; False when ``limit`` are taken."""
        with self._lock:
            if len(self._streams) + self._reserved >= limit:
                return False
            self._reserved += 1
            return True

    def unreserve(self) -> None:
        """Give back a place whose stream never opened."""
        with self._lock:
            self._reserved -= 1

    def add(self, stream: Endable) -> None:
        """Register a stream that has just opened, in the place reserved for it."""
        with self._lock:
            self._reserved -= 1
            self._streams.add(stream)
            late = self._ending
        if late:
            # Admitted before shutdown began, opened after the others were ended: it
            # would outlive the grace period and be cut off without an error line.
            stream.end_for_shutdown()

    def discard(self, stream: Endable) -> None:
        """Forget a stream that has ended; safe to call more than once."""
        with self._lock:
            self._streams.discard(stream)

    def end_unread(self) -> int:
        """End, with the shutdown error line, every open stream nobody reads; how many."""
        with self._lock:
            unread = [stream for stream in self._streams if not stream.readers]
        for stream in unread:
            stream.end_for_shutdown()
        return len(unread)

    def end_all(self) -> int:
        """End every open stream with the shutdown error line; returns how many."""
        with self._lock:
            self._ending = True
            streams = list(self._streams)
        for stream in streams:
            stream.end_for_shutdown()
        return len(streams)
