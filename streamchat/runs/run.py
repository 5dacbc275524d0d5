"""A run: one streamed reply, from the moment it holds a stream place to its settling.

The run owns what the reply holds (its place among the worker's open streams, its budget
reservation, the open upstream response). Its producer (a greenlet under gevent, a
thread under ``flask run``) reads the upstream through the per-chunk path's one entry
(streamchat.relay) at the upstream's pace, whatever its readers do, into the run's own
bounded memory (RunLines); HTTP responses are readers of those lines. When the last
reader leaves, the run generates on for its grace period, then stops.

It ends exactly once, however it ends: completed, an error line, stopped, its grace
period over, the server shutting down. Ending releases what it holds, settles the budget
to what the upstream sent, and hands a RunResult to each listener (the request log, the
metrics, the worker's registry of runs). Nobody else writes its state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..budgets import Admission, Budgets, tokens_counted
from ..relay.ndjson import ENDED_QUIETLY
from ..relay.pipeline import RelayLimits
from ..relay.protocols import ChatProtocol, ResponsesProtocol, UpstreamEventError
from ..settings.runs import RunSettings
from ..state import StateUnavailable
from ..upstream.streams import UpstreamStream
from ..worker.open_streams import OpenStreams
from .generation import Generation, cooperative
from .lines import RunLines

LOG = logging.getLogger("streamchat.runs")
# How a run ended, by its protocol's error code (None: the upstream finished the reply).
_OUTCOMES = {None: "completed", "server_shutting_down": "server_shutdown"}


class ServerShuttingDown(UpstreamEventError):
    """This worker is shutting down and ended the run before its grace period ran out."""

    def __init__(self) -> None:
        super().__init__(
            "server_shutting_down",
            "The server is restarting, so this reply was cut short. Send it again in a moment.",
        )


@dataclass(frozen=True)
class RunResult:
    """How a run ended and what it spent: what the log line, the metrics and the budgets
    read. Times are ``time.perf_counter()`` values."""

    run_id: str
    outcome: str  # completed, upstream_error, stopped, client_disconnected, server_shutdown
    error_code: str | None
    usage: dict | None
    tokens_counted: int
    tokens_source: str  # "reported" by the upstream, or "estimated"
    lines: int  # event lines the upstream's reply became (heartbeats not counted)
    bytes: int
    first_line_at: float | None
    ended_at: float
    upstream_read: str | None  # "direct" or "fallback": see streamchat.relay.source
    finished: bool  # the upstream finished the reply: an SSE chat stream ends with [DONE]


@dataclass(frozen=True)
class RunParts:
    """What every run of a worker shares: its open streams, the budgets, the limits."""

    streams: OpenStreams
    budgets: Budgets | None
    limits: RelayLimits
    settings: RunSettings


class Run:
    """One streamed reply; made and started by streamchat.runs.starting.Runs.start."""

    def __init__(
        self,
        run_id: str,
        who: str | None,
        api_name: str,
        upstream: UpstreamStream,
        protocol: ChatProtocol | ResponsesProtocol,
        parts: RunParts,
        admission: Admission | None,
        estimated_input: int,
    ) -> None:
        self.id = run_id
        self.who = who  # whose run: a user's or token's id; None with AUTH=none
        self.api_name = api_name  # "chat" or "responses"
        self.protocol = protocol
        self.admission = admission
        self.lines = RunLines()
        self.readers = 0
        self.result: RunResult | None = None
        self.upstream: UpstreamStream | None = upstream  # None once ended: see end()
        self.limits = parts.limits
        self.max_bytes = parts.settings.max_bytes
        self.generation = Generation(self)
        self._parts = parts
        self._estimated_input = estimated_input
        self._listeners: list[Callable[[RunResult], None]] = []
        self._interrupted: UpstreamEventError | None = None
        self._outcome = "upstream_error"  # until the relay or a stop says otherwise
        self._lock = threading.Lock()
        self._grace: threading.Timer | None = None

    def when_ended(self, listener: Callable[[RunResult], None]) -> None:
        """Call ``listener`` with the RunResult when the run ends (once); at once when it
        has ended already (a fast upstream can finish before a listener is added)."""
        with self._lock:
            ended = self.result is not None
            if not ended:
                self._listeners.append(listener)
        if ended:
            listener(self.result)

    def start(self) -> None:
        """Start reading the upstream. Under gevent the first reader (attached already)
        pulls it while it keeps up; under threads, a producer of the run's own."""
        if not cooperative():
            self.generation.push()

    def push(self) -> None:
        """Hand the reading to a producer of the run's own: its puller cannot keep up."""
        self.generation.push()

    def interrupted(self) -> UpstreamEventError | None:
        """Why the server closed the upstream itself, if it did (for the relay)."""
        return self._interrupted

    def generation_ended(self, completed: bool) -> None:
        """The relay has ended: ``completed`` when it ran to its end (else it was cut
        short by the process, and the outcome stays as it was)."""
        if completed and self._interrupted is not ENDED_QUIETLY:  # else stop() said how
            self._outcome = _OUTCOMES.get(self.protocol.error_code, "upstream_error")
        self.end()

    # --- readers ------------------------------------------------------------------------

    def attach(self) -> bool:
        """Count one more reader; False when MAX_READERS_PER_RUN are reading already."""
        with self._lock:
            if self.readers >= self._parts.settings.max_readers:
                return False
            self.readers += 1
            if self._grace is not None:
                self._grace.cancel()
                self._grace = None
            return True

    def detach(self) -> None:
        """One reader left. The last one starts the grace period (RUN_GRACE_SECONDS),
        after which a run nobody reads is stopped; with 0, it stops now."""
        with self._lock:
            self.readers -= 1
            if self.readers > 0 or self.result is not None:
                return
            grace = self._parts.settings.grace_seconds
        # Nobody pulls any more: the run reads on by itself, for its grace or to its stop.
        self.generation.push()
        with self._lock:
            if grace > 0:
                self._grace = threading.Timer(grace, self._abandon)
                self._grace.daemon = True
                self._grace.start()
                return
        self._abandon()

    def _abandon(self) -> None:
        with self._lock:
            if self.readers > 0:
                return
        # As when a connection carried the whole reply: nobody is listening any more.
        self._stop_upstream(ENDED_QUIETLY, "client_disconnected")

    def stop(self) -> None:
        """Stop generating: the upstream is closed, every reader's body ends after the
        lines produced so far, and what was generated is counted."""
        self._stop_upstream(ENDED_QUIETLY, "stopped")

    def end_for_shutdown(self) -> None:
        """End the run because the server is stopping: the relay then sends the shutdown
        error line (the read in progress fails, and that is how it learns)."""
        self._stop_upstream(ServerShuttingDown(), "server_shutdown")

    def _stop_upstream(self, reason: UpstreamEventError, outcome: str) -> None:
        upstream = self.upstream  # taken first: end() lets it go
        if self.result is not None or upstream is None or self._interrupted is not None:
            return
        self._interrupted = reason
        if reason is ENDED_QUIETLY:
            self._outcome = outcome
        upstream.close()

    # --- the end ------------------------------------------------------------------------

    def end(self) -> RunResult:
        """Release what the run holds, settle what it spent and tell the listeners; the
        first call does it (the producer's, when the relay ends), later ones return the
        same result."""
        with self._lock:
            if self.result is not None:
                return self.result
            if self._grace is not None:
                self._grace.cancel()
            self.result = self._settle()
            # An ended run is kept (RUN_KEEP_SECONDS, RUN_KEEP_MAX_BYTES) for its lines
            # alone. Its closed upstream response still holds the request, the whole
            # conversation sent upstream, which those bounds do not count: let it go.
            self.upstream = None
        # The listeners first: a reader that sees the end finds the run logged, counted
        # and settled.
        for listener in self._listeners:
            listener(self.result)
        self.lines.end()
        return self.result

    def _settle(self) -> RunResult:
        self._parts.streams.discard(self)
        self.upstream.close()
        usage = self.protocol.usage
        lines = self.lines
        # Counted from what the upstream sent (reported usage, else the estimate from the
        # lines it produced), never from what a reader received.
        tokens, source = tokens_counted(usage, self._estimated_input, len(lines.lines))
        if self.admission is not None:
            try:
                self._parts.budgets.settle(self.admission, tokens)
            except StateUnavailable:
                # Loud: these tokens were spent but not counted, and the reservation stays.
                LOG.error("budget_settle_failed", extra={"run_id": self.id, "tokens": tokens})
        return RunResult(
            run_id=self.id,
            outcome=self._outcome,
            error_code=self.protocol.error_code,
            usage=usage,
            tokens_counted=tokens,
            tokens_source=source,
            lines=len(lines.lines),
            bytes=lines.size,
            first_line_at=self.generation.first_line_at,
            ended_at=time.perf_counter(),
            upstream_read=self.generation.upstream_read,
            finished=self.protocol.finished and not self.protocol.error_code,
        )
