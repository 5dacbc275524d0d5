"""What a run has produced so far: its NDJSON lines, kept in the owning worker's memory,
and a way for readers to wait for more.

Appending a line is an append and a set of each waiting reader's event: nothing per
chunk leaves the process, and no reader waits with a timer (its heartbeats come from
the run: ``beat``, when the upstream has been silent for a heartbeat interval).
Positions are counted in lines (1-based for readers), never in bytes or characters, so
a resume point means the same thing to every reader.

A reader yields what it delivers as bytes: the next whole lines, joined (most often one
line, the relay's own piece, not copied), or None when a heartbeat is due. Positions
follow from the count of lines delivered, so nothing per chunk carries one.
"""

from __future__ import annotations

import threading

# What a reader yields: the lines that follow those it yielded before, joined.
Delivery = bytes


def split_lines(piece: bytes) -> list[bytes]:
    """The lines of ``piece`` (one or more, each ending in ``\\n``), split at ``\\n`` only:
    a JSON line may hold a bare ``\\r`` as whitespace, which is no line end here."""
    if piece.count(b"\n") == 1:
        return [piece]
    return [line + b"\n" for line in piece.split(b"\n")[:-1]]


class RunLines:
    """The lines of one run (each ending in ``\\n``), their bytes, whether the run has
    ended, and how many heartbeats it has had. One writer (the run), any number of
    readers, each waiting on an event of its own (under gevent's patching,
    threading.Event is gevent's)."""

    __slots__ = ("beats", "ended", "lines", "size", "waiters")

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.size = 0
        self.ended = False
        self.beats = 0
        self.waiters: list[threading.Event] = []

    def add(self, piece: bytes, limit: int) -> bool:
        """Append the lines of ``piece`` (one write of the relay: one or more lines), unless
        they would take the lines past ``limit`` bytes: False then, and nothing added.
        (A driving reader's loop, streamchat.runs.generation.driven, does the same inline.)"""
        size = self.size + len(piece)
        if size > limit:
            return False
        if piece.count(b"\n") == 1:
            self.lines.append(piece)
        else:
            self.lines.extend(split_lines(piece))
        self.size = size
        for event in self.waiters:
            event.set()
        return True

    def beat(self) -> None:
        """A heartbeat is due: the upstream has sent no line for a heartbeat interval."""
        self.beats += 1
        for event in self.waiters:
            event.set()

    def end(self) -> None:
        """No more lines will come; every reader wakes."""
        self.ended = True
        for event in self.waiters:
            event.set()

    def waiter(self) -> threading.Event:
        """An event set at every change, for one reader (until ``forget``)."""
        event = threading.Event()
        self.waiters = [*self.waiters, event]  # a new list: ``add`` may be iterating
        return event

    def forget(self, event: threading.Event) -> None:
        """The reader of ``event`` is gone."""
        self.waiters = [e for e in self.waiters if e is not event]
