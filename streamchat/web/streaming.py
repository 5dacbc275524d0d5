"""A run delivered as an HTTP response: NDJSON by default, SSE when the client asks
(docs/architecture.md, "Wire protocol"), and the run watched for its log line and
metrics.

The response body is a reader of the run under ``stream_with_context``, bytes only
(``direct_passthrough``: no per-chunk re-encoding layer). The connection is checked at
each heartbeat, so a client that left is let go within one heartbeat, and a write that
the client does not take within CLIENT_WRITE_TIMEOUT_SECONDS ends the reader
(streamchat.worker.stalled_writes). Either way the run goes on without it.
"""

from __future__ import annotations

from flask import Response, request, stream_with_context
from werkzeug.wsgi import ClosingIterator

from ..metrics.collectors import StreamMetrics
from ..relay.client_socket import client_socket, has_left
from ..relay.ndjson import HEARTBEAT_LINE
from ..relay.sse import SSE_DONE, SSE_HEARTBEAT, sse_events
from ..runs import Run, RunResult, split_lines
from ..runtime import current_runtime
from .requestlog import RequestRecord

STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and similar proxies buffer responses unless told not to.
    "X-Accel-Buffering": "no",
}
REMAINING_HEADER = "X-Token-Budget-Remaining"
RUN_ID_HEADER = "X-Run-ID"
# What a stream can be sent as; the first wins when the client takes either (*/*).
_FORMATS = ("application/x-ndjson", "text/event-stream")


def wants_sse() -> bool:
    """NDJSON unless the client asks for SSE."""
    return request.accept_mimetypes.best_match(_FORMATS) == "text/event-stream"


def watch(run: Run, record: RequestRecord, metrics: StreamMetrics | None) -> None:
    """Write the request's log line, and count the stream in the metrics, when ``run``
    ends."""
    record.log_when_ended(run)
    if metrics is None:
        return
    metrics.stream_opened()

    def count(result: RunResult) -> None:
        ttfb = None if result.first_line_at is None else result.first_line_at - record.started
        age = result.ended_at - record.started
        metrics.stream_ended(record.route, result.outcome, ttfb, age, result.usage)
        metrics.tokens_counted(result.tokens_counted, result.tokens_source)

    run.when_ended(count)


def delivered(
    reader, after: int, heartbeat: float, sse: bool, named: bool, connection, watched, close
):
    """The body of a streamed response: ``reader``'s lines from ``after`` on, framed as
    NDJSON or SSE, each write watched (``watched``: streamchat.worker.stalled_writes);
    ``close`` is called however it ends."""
    position, writes = after, 0
    try:
        for piece in reader.follow(after, heartbeat):
            if piece is None:
                if has_left(connection):
                    return  # a heartbeat is due and nobody is listening
                piece = SSE_HEARTBEAT if sse else HEARTBEAT_LINE
            elif sse:
                lines = split_lines(piece)
                piece = sse_events(position, lines, named)
                position += len(lines)
            # The watcher's two stores (WatchedWrite), inline: a call each costs more.
            writes += 1
            watched.writing = writes
            yield piece
            watched.writing = 0
        if sse and not named and reader.ends_with_done():
            yield SSE_DONE
    finally:
        close()


def stream_response(reader, run_id: str, after: int, sse: bool, named: bool, headers=None):
    """The streamed response that delivers ``reader`` (a LocalReader or a PeerReader)
    from line ``after`` on; ``named``: SSE events carry their type (the Responses API)."""
    runtime = current_runtime()
    connection = client_socket(request.environ)
    watched = runtime.stalled_writes.watch(connection, reader.slow)
    heartbeat = runtime.settings.heartbeat_seconds

    def close() -> None:
        runtime.stalled_writes.forget(watched)
        reader.close()

    return Response(
        # A generator closed before its first step skips its finally: closing the
        # iterable lets the reader go in every case. (Response.call_on_close would not:
        # with direct_passthrough werkzeug hands the iterable to the server unwrapped.)
        ClosingIterator(
            stream_with_context(
                delivered(reader, after, heartbeat, sse, named, connection, watched, close)
            ),
            close,
        ),
        mimetype="text/event-stream" if sse else "application/x-ndjson",
        headers={**STREAM_HEADERS, RUN_ID_HEADER: run_id, **(headers or {})},
        direct_passthrough=True,
    )
