"""A run: one streamed reply, from the moment it holds a stream place to its settling.

The run owns what the reply holds (its place among the worker's open streams, its budget
reservation, the open upstream response), relays the upstream through the per-chunk
path's one entry (streamchat.relay), counts what the upstream sent, and ends exactly
once, however it ends: completed, an error line, its reader gone, the server shutting
down, or closed before its first line. Ending releases what it holds, settles the budget
to what was counted, and hands a RunResult to each of its listeners (the request log,
the metrics). Nobody else writes its state.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..budgets import Admission, Budgets, tokens_counted
from ..relay.ndjson import HEARTBEAT_LINE
from ..relay.pipeline import RelayLimits, relay
from ..relay.protocols import ChatProtocol, ResponsesProtocol, UpstreamEventError
from ..state import StateUnavailable
from ..upstream.streams import UpstreamStream
from ..worker.open_streams import OpenStreams

LOG = logging.getLogger("streamchat.runs")
# How a run ended, by its protocol's error code (None: the upstream finished the reply).
_OUTCOMES = {None: "completed", "server_shutting_down": "server_shutdown"}


def _never() -> bool:
    return False


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
    outcome: str  # completed, upstream_error, client_disconnected, server_shutdown
    error_code: str | None
    usage: dict | None
    tokens_counted: int
    tokens_source: str  # "reported" by the upstream, or "estimated"
    lines: int  # event lines relayed (heartbeats not counted)
    bytes: int  # bytes relayed, heartbeats included
    first_line_at: float | None
    ended_at: float
    upstream_read: str | None  # "direct" or "fallback": see streamchat.relay.source


class Run:
    """One streamed reply; made by streamchat.runs.starting.Runs.start."""

    def __init__(
        self,
        upstream: UpstreamStream,
        protocol: ChatProtocol | ResponsesProtocol,
        *,
        streams: OpenStreams,
        budgets: Budgets | None,
        admission: Admission | None,
        estimated_input: int,
        limits: RelayLimits,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.protocol = protocol
        self.admission = admission
        self._upstream = upstream
        self._streams = streams
        self._budgets = budgets
        self._estimated_input = estimated_input
        self._limits = limits
        self._listeners: list[Callable[[RunResult], None]] = []
        self._interrupted: UpstreamEventError | None = None
        # Until the relay says otherwise, an ending run is a reader that went away.
        self._outcome = "client_disconnected"
        self._upstream_read: str | None = None
        self._lines = 0
        self._bytes = 0
        self._first_line_at: float | None = None
        self.result: RunResult | None = None

    def when_ended(self, listener: Callable[[RunResult], None]) -> None:
        """Call ``listener`` with the RunResult when the run ends (once)."""
        self._listeners.append(listener)

    def pieces(self, reader_gone: Callable[[], bool] = _never) -> Iterator[bytes]:
        """The reply as NDJSON pieces, heartbeats (HEARTBEAT_LINE) included. At each
        heartbeat ``reader_gone()`` is asked, and the run stops when it says so; the run
        ends when this generator ends or is closed."""
        try:
            relayed = relay(self._upstream.response, self.protocol, self._limits, self._reason)
            # "fallback" on a real upstream means a library upgrade has turned the fast
            # path off (streamchat.relay.direct_body).
            self._upstream_read = "direct" if relayed.direct else "fallback"
            for piece in relayed.pieces:
                if piece is HEARTBEAT_LINE:
                    if reader_gone():
                        return  # a heartbeat is due and nobody is listening: stop now
                else:
                    if self._first_line_at is None:
                        self._first_line_at = time.perf_counter()
                    self._lines += piece.count(b"\n")
                self._bytes += len(piece)
                yield piece
            self._outcome = _OUTCOMES.get(self.protocol.error_code, "upstream_error")
        finally:
            # Runs when the reply ends or its reader goes away (a failed write closes the
            # generator), so no tokens are spent for nobody.
            self.end()

    def _reason(self) -> UpstreamEventError | None:
        return self._interrupted

    def end_for_shutdown(self) -> None:
        """End the run because the server is stopping: the relay then sends the shutdown
        error line (the read in progress fails, and that is how it learns)."""
        self._interrupted = ServerShuttingDown()
        self._upstream.close()

    def end(self) -> RunResult:
        """Release what the run holds, settle what it spent and tell the listeners; the
        first call does it, later ones return the same result."""
        if self.result is not None:
            return self.result
        self._streams.discard(self)
        self._upstream.close()
        usage = self.protocol.usage
        # However the run ended, what it spent is counted (reported, else estimated).
        tokens, source = tokens_counted(usage, self._estimated_input, self._lines)
        self._settle(tokens)
        self.result = RunResult(
            run_id=self.id,
            outcome=self._outcome,
            error_code=self.protocol.error_code,
            usage=usage,
            tokens_counted=tokens,
            tokens_source=source,
            lines=self._lines,
            bytes=self._bytes,
            first_line_at=self._first_line_at,
            ended_at=time.perf_counter(),
            upstream_read=self._upstream_read,
        )
        for listener in self._listeners:
            listener(self.result)
        return self.result

    def _settle(self, tokens: int) -> None:
        if self.admission is None:
            return
        try:
            self._budgets.settle(self.admission, tokens)
        except StateUnavailable:
            # Loud: these tokens were spent but not counted, and the reservation stays.
            LOG.error("budget_settle_failed", extra={"run_id": self.id, "tokens": tokens})
