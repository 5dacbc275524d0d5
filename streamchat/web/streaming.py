"""A run delivered as an HTTP response: NDJSON by default, SSE when the client asks
(docs/architecture.md, "Wire protocol"), and the run watched for its log line and
metrics.

The response body is the run's pieces under ``stream_with_context``, bytes only
(``direct_passthrough``: no per-chunk re-encoding layer). The connection is checked at
each heartbeat, so a client that left ends the run within one heartbeat.
"""

from __future__ import annotations

from flask import Response, request, stream_with_context
from werkzeug.wsgi import ClosingIterator

from ..metrics.collectors import StreamMetrics
from ..relay.client_socket import client_socket, has_left
from ..relay.sse import as_sse
from ..runs import Run, RunResult
from .requestlog import RequestRecord

STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and similar proxies buffer responses unless told not to.
    "X-Accel-Buffering": "no",
}
REMAINING_HEADER = "X-Token-Budget-Remaining"
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


def stream_response(run: Run, sse: bool) -> Response:
    """The streamed response that delivers ``run`` to this request's client."""
    connection = client_socket(request.environ)
    body = run.pieces(reader_gone=lambda: has_left(connection))
    if sse:
        body = as_sse(body, run.protocol)
    headers = STREAM_HEADERS
    if run.admission is not None:
        headers = {**STREAM_HEADERS, REMAINING_HEADER: str(run.admission.remaining)}
    return Response(
        # A generator closed before its first step skips its finally: closing the
        # iterable ends the run in every case. (Response.call_on_close would not: with
        # direct_passthrough werkzeug hands the iterable to the server unwrapped.)
        ClosingIterator(stream_with_context(body), run.end),
        mimetype="text/event-stream" if sse else "application/x-ndjson",
        headers=headers,
        direct_passthrough=True,
    )
