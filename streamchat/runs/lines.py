"""What a run has produced so far: its NDJSON lines, kept in the owning worker's memory,
and a way for readers to wait for more.

Appending a line is an append and, when a reader is waiting, one event set: nothing per
chunk leaves the process. Positions are counted in lines (1-based for readers), never
in bytes or characters, so a resume point means the same thing to every reader.
"""

from __future__ import annotations

import threading

# What a reader yields: how many lines came before, and the lines that follow them.
Delivery = tuple[int, list[bytes]]


class RunLines:
    """The lines of one run (each ending in ``\\n``), their bytes, and whether the run has
    ended. One writer (the run), any number of readers."""

    __slots__ = ("_new", "_waiting", "ended", "lines", "size")

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.size = 0
        self.ended = False
        # Replaced each time it is set, so a reader waits on the event of its own turn.
        # Under gevent's patching threading.Event is gevent's.
        self._new = threading.Event()
        self._waiting = 0

    def add(self, piece: bytes) -> None:
        """Append the lines of ``piece`` (one write of the relay: one or more lines)."""
        if piece.count(b"\n") == 1:
            self.lines.append(piece)
        else:
            self.lines.extend(piece.splitlines(keepends=True))
        self.size += len(piece)
        if self._waiting:
            self._wake()

    def end(self) -> None:
        """No more lines will come; every waiting reader wakes."""
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        event, self._new = self._new, threading.Event()
        event.set()

    def wait(self, seen: int, timeout: float) -> bool:
        """Wait until there are more than ``seen`` lines or the run has ended; False when
        ``timeout`` seconds passed first."""
        self._waiting += 1
        event = self._new  # taken before the check, so an add after it wakes us
        try:
            if len(self.lines) > seen or self.ended:
                return True
            return event.wait(timeout)
        finally:
            self._waiting -= 1
