"""The streaming API routes, /api/chat and /api/responses: read the request, start a
run, answer with its first reader (docs/architecture.md, "Request lifecycle")."""

from __future__ import annotations

from flask import Blueprint, request

from ..identity import current_identity
from ..runs import CHAT, RESPONSES, Api, LocalReader
from ..runtime import current_runtime
from .body import read_json_body
from .conversation_turns import SAVED_HEADER, begin_turn, conversation_id_of
from .origin import check_same_origin
from .ratelimit import client_key
from .requestlog import current_record
from .streaming import REMAINING_HEADER, stream_response, wants_sse, watch
from .validation import validate_chat_request

api = Blueprint("api", __name__)


def run_owner() -> str | None:
    """Whose runs this request may start, read and stop: the signed-in user's or the API
    token's id; None with AUTH=none, where holding a run's id is enough."""
    identity = current_identity()
    return identity.owner if identity is not None else None


def _body_size(limit: int) -> int:
    """What a request's body will take: its Content-Length, or the largest body allowed
    when it comes chunked (one over the limit is refused before a byte is read)."""
    length = request.content_length
    return limit if length is None else min(length, limit)


def _stream(chosen_api: Api):
    runtime = current_runtime()
    settings = runtime.settings
    runtime.runs.refuse_if_draining()
    # The body first, under a deadline, and only then a stream place: a client that
    # trickles its body holds no place meanwhile (REQUEST_BODY_TIMEOUT_SECONDS). Its
    # bytes are held (MAX_BODY_BYTES_IN_FLIGHT) until the request has gone upstream.
    with runtime.body_bytes.held(_body_size(settings.max_content_length)):
        body = read_json_body(settings.request_body_timeout_seconds, settings.max_content_length)
        chat_request = validate_chat_request(body, settings)
        owner = run_owner()
        conversation_id = conversation_id_of(body, owner)
        record = current_record()
        record.model = chat_request.model
        run_id = runtime.runs.new_id()
        turn = None
        if conversation_id is not None:
            turn = begin_turn(runtime.conversations, owner, conversation_id, chat_request, run_id)
        try:
            run = runtime.runs.start(chosen_api, chat_request, client_key(), owner, run_id)
        except BaseException:
            if turn is not None:
                turn.give_up()
            raise
    watch(run, record, runtime.metrics)
    headers = {}
    if turn is not None:
        turn.keep_reply(run)
        if not turn.saved:
            headers[SAVED_HEADER] = "false"
    if run.admission is not None:
        headers[REMAINING_HEADER] = str(run.admission.remaining)
    reader = LocalReader(run, attached=True, drives=True)
    return stream_response(reader, run.id, 0, wants_sse(), chosen_api is RESPONSES, headers)


@api.before_request
def refuse_cross_site_requests():
    """Browsers may call the API from our own page only."""
    check_same_origin(current_runtime().settings.allowed_origins)


@api.post("/api/chat")
def chat():
    """Stream a Chat Completions reply: one upstream chunk per NDJSON line (or SSE event)."""
    return _stream(CHAT)


@api.post("/api/responses")
def responses():
    """Stream a Responses API reply: one upstream event per NDJSON line (or SSE event)."""
    return _stream(RESPONSES)
