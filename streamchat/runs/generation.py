"""How a run reads its upstream: the relay's pieces into the run's lines, driven by one
of two greenlets (threads under ``flask run``).

- **Pulled** by the run's first reader, in its own greenlet, while it keeps up: it asks
  for the next piece, the piece is appended to the run's lines (for any other reader)
  and the reader writes it. Nothing is handed between greenlets per chunk, so a run
  costs per chunk what a connection-bound stream did.
- **Pushed** by a producer of its own, from the moment that reader cannot keep up: it
  left (the grace period), or one write has waited a second on a slow or stalled
  client (streamchat.worker.stalled_writes). From then on generation goes at the
  upstream's pace, whatever the readers do.

The relay generator is resumed by one greenlet at a time: a hand-over happens only while
the puller is outside it (between pieces: writing, or gone). Under real threads
(``flask run``) a run is pushed from the start, which needs no such care.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

from gevent import monkey

from ..relay.ndjson import HEARTBEAT_LINE
from ..relay.pipeline import RelayLimits, relay
from ..relay.protocols import ChatProtocol, ResponsesProtocol, UpstreamEventError
from ..upstream.streams import UpstreamStream
from .lines import RunLines, split_lines

_TOO_LONG = "The reply grew longer than this server keeps for one reply, so it ends here."


def cooperative() -> bool:
    """Whether this process runs on gevent's greenlets (gunicorn's gevent worker)."""
    return monkey.is_module_patched("threading")


class Generated(Protocol):
    """What a Generation needs of its run (streamchat.runs.run.Run)."""

    id: str
    upstream: UpstreamStream | None  # None once the run has ended
    protocol: ChatProtocol | ResponsesProtocol
    limits: RelayLimits
    lines: RunLines
    max_bytes: int
    result: Any

    def interrupted(self) -> UpstreamEventError | None: ...

    def generation_ended(self, completed: bool) -> None: ...


class Generation:
    """The reading of one run's upstream."""

    def __init__(self, run: Generated) -> None:
        self._run = run
        self._pieces: Iterator[bytes] | None = None
        self.pushed = False
        self.handed_over = (0, 0)  # (lines, heartbeats) when pushed: see driven
        self._lock = threading.Lock()
        self.first_line_at: float | None = None
        self.upstream_read: str | None = None

    def _source(self) -> Iterator[bytes]:
        if self._pieces is None:
            run = self._run
            relayed = relay(run.upstream.response, run.protocol, run.limits, run.interrupted)
            # "fallback" on a real upstream means a library upgrade has turned the fast
            # path off (streamchat.relay.direct_body).
            self.upstream_read = "direct" if relayed.direct else "fallback"
            self._pieces = relayed.pieces
        return self._pieces

    def _take(self, piece: bytes) -> bool:
        """Append ``piece``; False when the run must end here (over RUN_MAX_BYTES)."""
        lines = self._run.lines
        if piece is HEARTBEAT_LINE:
            lines.beat()  # the upstream was silent for a heartbeat interval
            return True
        if self.first_line_at is None:
            self.first_line_at = time.perf_counter()
        if not lines.add(piece, self._run.max_bytes):
            self._too_long()
            return False
        return True

    def _too_long(self) -> None:
        run = self._run
        run.upstream.close()
        run.lines.add(run.protocol.error_line("reply_too_long", _TOO_LONG), sys.maxsize)

    def driven(self) -> Iterator[bytes | None]:
        """For the run's first reader, in its own greenlet: what that reader delivers,
        while it keeps up. Each piece of the relay once the run has it (appended to its
        lines), to be written as it is; None once a heartbeat is counted. Ends when the
        run has ended (its last line yielded) or is pushed: the reader then follows like
        any other, from ``handed_over``.

        The per-chunk path of nearly every run, so it is one loop that makes no call but
        the relay's next piece: it appends as RunLines.add does, inline (bench/README.md,
        "instructions per chunk")."""
        run = self._run
        lines = run.lines
        limit = run.max_bytes
        store = lines.lines
        append = store.append
        pieces = self._source()
        while not self.pushed and run.result is None:
            try:
                piece = next(pieces)
            except StopIteration:
                self._finish(completed=True)
                return
            except BaseException:
                self._finish(completed=False)
                raise
            if piece is HEARTBEAT_LINE:
                lines.beat()  # the upstream was silent for a heartbeat interval
                yield None
                continue
            if self.first_line_at is None:
                self.first_line_at = time.perf_counter()
            size = lines.size + len(piece)
            if size > limit:
                # The run ends with the error line in place of the piece.
                self._too_long()
                self._finish(completed=True)
                yield store[-1]
                return
            if piece.count(b"\n") == 1:
                append(piece)
            else:
                store.extend(split_lines(piece))
            lines.size = size
            for event in lines.waiters:  # other readers, already there
                event.set()
            yield piece

    def push(self) -> None:
        """Go on reading in a producer of the run's own (once; not after the run ended,
        which has let its upstream go)."""
        with self._lock:
            if self.pushed or self._run.result is not None:
                return
            self.pushed = True
            # A hand-over happens only while the puller is between pieces (writing one,
            # or gone): it has yielded every line and heartbeat so far.
            lines = self._run.lines
            self.handed_over = (len(lines.lines), lines.beats)
        name = f"run-{self._run.id[:12]}"
        threading.Thread(target=self._produce, name=name, daemon=True).start()

    def _produce(self) -> None:
        completed = False
        try:
            for piece in self._source():
                if not self._take(piece):
                    break
            completed = True
        finally:
            self._finish(completed)

    def _finish(self, completed: bool) -> None:
        if self._pieces is not None:
            self._pieces.close()
        self._run.generation_ended(completed)
