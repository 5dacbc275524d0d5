"""The streams one worker is relaying right now, and ending them when it shuts down."""

from __future__ import annotations

import threading
from typing import Protocol


class Endable(Protocol):
    """What the registry needs of a stream (streamchat.upstream.UpstreamStream)."""

    def end_for_shutdown(self) -> None: ...


class OpenStreams:
    """Counts the open streams of this worker process and drains them on shutdown."""

    def __init__(self) -> None:
        self._streams: set[Endable] = set()
        self._lock = threading.Lock()
        self.draining = False

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, stream: Endable) -> None:
        """Register a stream that has just opened."""
        with self._lock:
            self._streams.add(stream)

    def discard(self, stream: Endable) -> None:
        """Forget a stream that has ended; safe to call more than once."""
        with self._lock:
            self._streams.discard(stream)

    def end_all(self) -> int:
        """End every open stream with the shutdown error line; returns how many."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.end_for_shutdown()
        return len(streams)
