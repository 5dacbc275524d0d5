"""HTTP routes: the chat page and the streaming chat endpoint. Kept thin on purpose."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context

from .errors import ApiError
from .pump import with_heartbeats
from .relay import relay_chat
from .upstream import open_chat_stream
from .validation import validate_chat_request

bp = Blueprint("chat", __name__)

STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    # nginx and similar proxies buffer responses unless told not to.
    "X-Accel-Buffering": "no",
}


def _runtime():
    return current_app.extensions["streamchat"]


def read_json_body() -> object:
    """The request body parsed as JSON, or a 4xx ApiError that says what is wrong."""
    if request.mimetype != "application/json":
        raise ApiError(
            415,
            "Send the request as JSON (Content-Type: application/json).",
            "invalid_request_error",
            "unsupported_media_type",
        )
    try:
        return json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8 and bad JSON; RecursionError absurdly deep nesting.
        raise ApiError(
            400, "The request body is not valid JSON.", "invalid_request_error", "invalid_json"
        ) from None


@bp.get("/")
def index():
    """The chat page; it learns the models and demo mode from data attributes."""
    settings = _runtime().settings
    return render_template(
        "index.html",
        demo=settings.demo,
        models=list(settings.openai_models),
        default_model=settings.openai_model,
    )


@bp.post("/api/chat")
def chat():
    """Stream a chat reply as NDJSON: one upstream chunk per line."""
    runtime = _runtime()
    chat_request = validate_chat_request(read_json_body(), runtime.settings)
    upstream = open_chat_stream(runtime.client, chat_request, runtime.settings)

    def body():
        try:
            yield from relay_chat(
                with_heartbeats(upstream.chunks(), runtime.settings.heartbeat_seconds)
            )
        finally:
            # Runs when the stream ends or the client goes away (a failed write closes
            # the generator), so no tokens are spent for nobody.
            upstream.close()

    response = Response(
        stream_with_context(body()), mimetype="application/x-ndjson", headers=STREAM_HEADERS
    )
    # A generator closed before its first step skips its finally; this covers that case.
    response.call_on_close(upstream.close)
    return response
