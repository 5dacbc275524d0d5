"""Readers that accept no bytes: a response write that has waited on its client for
CLIENT_WRITE_TIMEOUT_SECONDS is ended by shutting its connection down, so the write
fails at once (as a broken pipe) and the reader is dropped; the run it was reading goes
on. A write that has waited SLOW_SECONDS is reported first (``on_slow``): a reader that
drives its run's reading then hands it over.

One watcher per worker looks at the writes in progress once a second; a reader costs two
attribute stores per write (``writing``: the write's number, then 0), no call and no
clock: the watcher times a write from the first look that finds it still waiting.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

_CHECK_EVERY_SECONDS = 1.0
SLOW_SECONDS = 1.0
LOG = logging.getLogger("streamchat.readers")


class WatchedWrite:
    """One reader's connection: when the write it is waiting on was handed over."""

    __slots__ = ("on_slow", "seen", "sock", "waiting_since", "writing")

    def __init__(self, sock: socket.socket | None, on_slow: Callable[[], None] | None) -> None:
        self.sock = sock
        self.on_slow = on_slow
        # The writer's count of the write it has handed to the server and waits on (its
        # 1st, 2nd, ...: a new number for each), 0 between writes. It stores it itself,
        # inline: a method call per write would cost more than the store.
        self.writing = 0
        self.seen = 0  # the write the watcher last found waiting
        self.waiting_since: float | None = None  # when it first found it

    def look(self, now: float) -> float:
        """How long the current write has waited, as far as the watcher can tell."""
        writing = self.writing
        if not writing:
            return 0.0
        if self.seen != writing:
            self.seen, self.waiting_since = writing, now
        return now - self.waiting_since


class StalledWrites:
    """Watches this worker's readers' writes (started on first use, in the worker)."""

    def __init__(self, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        self._writes: set[WatchedWrite] = set()
        self._lock = threading.Lock()
        self._watching = False

    def watch(
        self, sock: socket.socket | None, on_slow: Callable[[], None] | None = None
    ) -> WatchedWrite:
        """Watch the writes to ``sock`` until ``forget``; ``on_slow`` is called (once)
        when one has waited SLOW_SECONDS."""
        write = WatchedWrite(sock, on_slow)
        with self._lock:
            self._writes.add(write)
            if not self._watching and sock is not None:
                self._watching = True
                threading.Thread(target=self._watch, name="stalled-writes", daemon=True).start()
        return write

    def forget(self, write: WatchedWrite) -> None:
        """Stop watching ``write``."""
        with self._lock:
            self._writes.discard(write)

    def _watch(self) -> None:
        while True:
            time.sleep(_CHECK_EVERY_SECONDS)
            self.drop_stalled(time.monotonic())

    def drop_stalled(self, now: float) -> int:
        """Shut down every connection whose write has waited past the timeout; how many."""
        with self._lock:
            waited = [(w, w.look(now)) for w in self._writes]
            slow = [w for w, seconds in waited if w.on_slow and seconds >= SLOW_SECONDS]
            stalled = [w for w, seconds in waited if seconds >= self.timeout_seconds]
            for write in stalled:
                self._writes.discard(write)
        for write in slow:
            write.on_slow, call = None, write.on_slow
            call()
        for write in stalled:
            LOG.info("stalled_reader_dropped", extra={"waited_seconds": self.timeout_seconds})
            if write.sock is not None:
                with contextlib.suppress(OSError):
                    write.sock.shutdown(socket.SHUT_RDWR)
        return len(stalled)
