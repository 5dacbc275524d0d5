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


def _joined(lines: list[bytes], start: int, end: int) -> bytes:
    """Lines ``start`` to ``end`` (0-based, end excluded) as one piece."""
    return lines[start] if end == start + 1 else b"".join(lines[start:end])


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
        seen, beats = after, run_lines.beats
        if self._drives:
            # While it drives, a reader writes each piece as the relay made it: nothing is
            # looked up, copied or woken per chunk (streamchat.runs.generation.driven).
            if len(lines) > seen:
                count = len(lines)
                yield _joined(lines, seen, count)
                seen = count
            generation = run.generation
            yield from generation.driven()
            # Pushed now (or ended): follow like any reader, from what it has delivered.
            self._drives = False
            if generation.pushed:
                handed_lines, beats = generation.handed_over
                seen = max(seen, handed_lines)
            else:
                seen, beats = len(lines), run_lines.beats
        if run_lines.ended and len(lines) == seen:
            return
        event = run_lines.waiter()
        try:
            while True:
                event.clear()  # before looking: a change after the look sets it again
                count = len(lines)
                if count > seen:
                    yield _joined(lines, seen, count)
                    seen = count
                elif run_lines.ended:
                    return
                elif run_lines.beats != beats:
                    beats = run_lines.beats
                    yield None
                else:
                    event.wait()
        finally:
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
