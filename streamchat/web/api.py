"""The streaming API routes, /api/chat and /api/responses. Kept thin on purpose: each
step is a call into the layer that owns it (docs/architecture.md, "Request
lifecycle")."""

from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context
from werkzeug.wsgi import ClosingIterator

from ..budgets import estimate_input_tokens
from ..errors import ApiError
from ..relay.client_socket import client_socket, has_left
from ..relay.ndjson import HEARTBEAT_LINE, relay
from ..relay.pacing import WriteMark
from ..relay.protocols import ChatProtocol, ResponsesProtocol
from ..relay.sse import as_sse
from ..runtime import current_runtime
from ..upstream.streams import open_chat_stream, open_responses_stream
from .body import read_json_body
from .budget import REMAINING_HEADER, admit, count, release
from .origin import check_same_origin
from .requestlog import current_record
from .validation import validate_chat_request

api = Blueprint("api", __name__)

STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and similar proxies buffer responses unless told not to.
    "X-Accel-Buffering": "no",
}


# Long enough for a few replies of this worker to finish; short enough to feel like a
# pause. Behind a load balancer the retry may well land on another worker.
BUSY_RETRY_AFTER_SECONDS = 3

_OUTCOMES = {None: "completed", "server_shutting_down": "server_shutdown"}
# What a stream can be sent as; the first wins when the client takes either (*/*).
_FORMATS = ("application/x-ndjson", "text/event-stream")


def _stream(open_stream, protocol):
    """Validate, open the upstream, and answer with the relay as a streamed response."""
    runtime = current_runtime()
    record = current_record()
    if runtime.streams.draining:
        raise ApiError(
            503,
            "The server is restarting. Try again in a moment.",
            "server_error",
            "server_shutting_down",
            retry_after=2,
        )
    settings = runtime.settings
    # NDJSON unless the client asks for SSE (docs/architecture.md, "Wire protocol").
    wants_sse = request.accept_mimetypes.best_match(_FORMATS) == "text/event-stream"
    # The body first, under a deadline, and only then a stream place: a client that
    # trickles its body holds no place meanwhile (REQUEST_BODY_TIMEOUT_SECONDS).
    body = read_json_body(settings.request_body_timeout_seconds, settings.max_content_length)
    chat_request = validate_chat_request(body, settings)
    record.model = chat_request.model
    # Admission before any upstream work: past the limit the answer is an immediate 503,
    # never a queue in which every stream of the worker gets slower.
    if not runtime.streams.reserve(settings.max_streams_per_worker):
        raise ApiError(
            503,
            "The server is busy with other replies. Try again in a few seconds.",
            "server_error",
            "server_busy",
            retry_after=BUSY_RETRY_AFTER_SECONDS,
        )
    estimated_input = estimate_input_tokens(chat_request.messages)
    admission = None
    try:
        # Token budgets, before any upstream call: a 429 when spent, else the reply's
        # cost reserved and its output cap lowered to what is left.
        chat_request, admission = admit(runtime, chat_request, estimated_input)
        upstream = open_stream(runtime.client, chat_request, settings)
    except BaseException:
        runtime.streams.unreserve()
        release(runtime, admission)
        raise
    runtime.streams.add(upstream)
    if runtime.metrics:
        runtime.metrics.stream_opened()
    connection = client_socket(request.environ)
    # Until the relay says otherwise, an ending stream is a client that went away.
    record.outcome = "client_disconnected"

    def finish() -> None:
        # Called twice (the generator's finally, then the iterable's close): the stream
        # is counted and logged once.
        runtime.streams.discard(upstream)
        upstream.close()
        if record.logged:
            return
        record.usage = protocol.usage
        # However the stream ended, what it spent is counted (reported, else estimated).
        count(runtime, record, admission, estimated_input)
        record.log()
        if runtime.metrics:
            runtime.metrics.stream_ended(
                record.route, record.outcome, record.ttfb(), record.age(), record.usage
            )
            runtime.metrics.tokens_counted(record.tokens_counted, record.tokens_source)

    def lines():
        try:
            mark = WriteMark()
            source = upstream.body(
                settings.heartbeat_seconds, settings.upstream_read_timeout_seconds, mark
            )
            # Which read path served it: "fallback" on a real upstream means a library
            # upgrade has turned the fast path off (streamchat.relay.direct_body).
            record.upstream_read = "direct" if upstream.direct else "fallback"
            relayed = relay(
                source, protocol, mark=mark, max_event_bytes=settings.max_upstream_event_bytes
            )
            for piece in relayed:
                heartbeat = piece is HEARTBEAT_LINE
                if heartbeat and has_left(connection):
                    return  # a heartbeat is due and nobody is listening: stop now
                record.sent(piece, heartbeat)
                yield piece
            record.error_code = protocol.error_code
            record.outcome = _OUTCOMES.get(protocol.error_code, "upstream_error")
        finally:
            # Runs when the stream ends or the client goes away (a failed write closes
            # the generator), so no tokens are spent for nobody.
            finish()

    body = lines()
    if wants_sse:
        body = as_sse(body, protocol)
    response = Response(
        # A generator closed before its first step skips its finally: closing the
        # iterable runs finish in every case. (Response.call_on_close would not: with
        # direct_passthrough werkzeug hands the iterable to the server unwrapped.)
        ClosingIterator(stream_with_context(body), finish),
        mimetype="text/event-stream" if wants_sse else "application/x-ndjson",
        headers=STREAM_HEADERS
        if admission is None
        else {**STREAM_HEADERS, REMAINING_HEADER: str(admission.remaining)},
        # The body yields bytes only: no per-chunk re-encoding layer (iter_encoded).
        direct_passthrough=True,
    )
    response.logs_when_done = True
    return response


@api.before_request
def refuse_cross_site_requests():
    """Browsers may call the API from our own page only."""
    check_same_origin(current_runtime().settings.allowed_origins)


@api.post("/api/chat")
def chat():
    """Stream a Chat Completions reply: one upstream chunk per NDJSON line (or SSE event)."""
    return _stream(open_chat_stream, ChatProtocol())


@api.post("/api/responses")
def responses():
    """Stream a Responses API reply: one upstream event per NDJSON line (or SSE event)."""
    return _stream(open_responses_stream, ResponsesProtocol())
