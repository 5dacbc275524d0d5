"""A reader of a run this worker owns: its lines after a resume point, live until the
run ends, and a heartbeat whenever nothing came for a while.

What a reader yields is what any reader yields (the web layer frames it), whichever
worker owns the run: ``(position, lines)`` where ``position`` is how many lines came
before these, or ``None`` when a heartbeat is due.
"""

from __future__ import annotations

from collections.abc import Iterator

from .errors import TooManyReaders
from .lines import Delivery
from .run import Run


class LocalReader:
    """One reader of ``run``, attached (counted) from creation to ``close``. The run's
    first reader ``drives`` it: it pulls the upstream itself while it keeps up
    (streamchat.runs.generation)."""

    def __init__(self, run: Run, *, attached: bool = False, drives: bool = False) -> None:
        if not attached and not run.attach():
            raise TooManyReaders()
        self.run = run
        self.api_name = run.api_name
        self._drives = drives
        self._closed = False

    def follow(self, after: int, heartbeat_seconds: float) -> Iterator[Delivery | None]:
        """The run's lines after the first ``after``, as they come; None at each of the
        run's heartbeats (``heartbeat_seconds`` is the run's own, HEARTBEAT_SECONDS)."""
        run = self.run
        run_lines = run.lines
        lines = run_lines.lines
        # The driving reader needs no event until it stops driving: nobody sets one per
        # chunk for it.
        event = None if self._drives else run_lines.waiter()
        seen, beats = after, run_lines.beats
        try:
            while True:
                if event is not None:
                    event.clear()  # before looking: a change after the look sets it again
                count = len(lines)
                if count > seen:
                    yield seen, lines[seen:count]
                    seen = count
                elif run_lines.ended:
                    return
                elif run_lines.beats != beats:
                    beats = run_lines.beats
                    yield None
                elif event is not None:
                    event.wait()
                elif not (self._drives and run.pull()):
                    # Pushed now (or ended): follow like any reader, from a fresh look.
                    self._drives = False
                    event = run_lines.waiter()
        finally:
            if event is not None:
                run_lines.forget(event)

    def ends_with_done(self) -> bool:
        """Whether the run finished the reply (an SSE chat stream then ends with
        ``data: [DONE]``); asked after ``follow`` has ended."""
        result = self.run.result
        return result is not None and result.finished

    def slow(self) -> None:
        """This reader's client has not taken a write for a while: if it drives the run,
        the run reads on without it."""
        if self._drives:
            self._drives = False
            self.run.push()

    def close(self) -> None:
        """This reader is gone; safe to call more than once."""
        if not self._closed:
            self._closed = True
            if self._drives:
                self.run.push()  # other readers may still wait for lines
            self.run.detach()
