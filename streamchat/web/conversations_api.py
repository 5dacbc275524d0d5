"""The conversations API (docs/api.md, "Conversations"): a signed-in person's
conversations, listed, made, read, renamed, deleted and exported. Registered only with
AUTH set: with AUTH=none nobody owns a conversation and the page keeps its own.

Same sign-in, same-origin and JSON error rules as the chat API; its rate limit counts on
its own, so reading conversations never spends the allowance replies need.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..conversations import ConversationStore, as_json, as_markdown, file_name
from ..errors import bad_request
from ..runtime import current_runtime
from .api import run_owner
from .body import read_json_body
from .origin import check_same_origin
from .validation import validate_stored_messages

conversations_api = Blueprint("conversations", __name__)
DEFAULT_PAGE, MAX_PAGE = 50, 200
MAX_TITLE_CHARS = 200
_EXPORTS = {
    "markdown": (as_markdown, "text/markdown; charset=utf-8", "md"),
    "json": (as_json, "application/json; charset=utf-8", "json"),
}


def _store() -> ConversationStore:
    return current_runtime().conversations


def _owner() -> str:
    # The sign-in gate ran before this blueprint (AUTH is set when it is registered).
    owner = run_owner()
    assert owner is not None
    return owner


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not raw.isascii() or len(raw) > 3 or not 1 <= int(raw) <= MAX_PAGE:
        raise bad_request(f"'limit' must be a number from 1 to {MAX_PAGE}.", "invalid_limit")
    return int(raw)


def _text_field(body: dict, name: str, default: str | None) -> str | None:
    value = body.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TITLE_CHARS or "\x00" in value:
        raise bad_request(
            f"'{name}' must be a string of at most {MAX_TITLE_CHARS} characters.",
            f"invalid_{name}",
        )
    return value.strip()


def _json_object() -> dict:
    settings = current_runtime().settings
    body = read_json_body(settings.request_body_timeout_seconds, settings.max_content_length)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "invalid_body")
    return body


@conversations_api.before_request
def refuse_cross_site_requests():
    """Browsers may call the API from our own page only."""
    check_same_origin(current_runtime().settings.allowed_origins)


@conversations_api.get("/api/conversations")
def list_conversations():
    """A page of the signed-in person's conversations, most recently updated first."""
    rows, cursor = _store().page(_owner(), _limit(), request.args.get("before") or None)
    return jsonify(conversations=rows, next=cursor)


@conversations_api.post("/api/conversations")
def create_conversation():
    """A new, empty conversation: 201 with it."""
    body = _json_object()
    title = _text_field(body, "title", "")
    model = _text_field(body, "model", None)
    settings = current_runtime().settings
    if model is not None and model not in settings.openai_models:
        model = settings.openai_model
    return jsonify(_store().create(_owner(), title or "", model)), 201


@conversations_api.get("/api/conversations/<conversation_id>")
def get_conversation(conversation_id: str):
    """The conversation, its messages, and the run streaming into it now (or null)."""
    return jsonify(_store().get(_owner(), conversation_id))


@conversations_api.patch("/api/conversations/<conversation_id>")
def rename_conversation(conversation_id: str):
    """Give the conversation a new title."""
    title = _text_field(_json_object(), "title", None)
    if title is None:
        raise bad_request("Send the new 'title'.", "invalid_title")
    return jsonify(_store().rename(_owner(), conversation_id, title))


@conversations_api.post("/api/conversations/<conversation_id>/messages")
def store_messages(conversation_id: str):
    """Store the messages sent as the conversation's (an import of one a browser kept):
    200 with the conversation. The chat request's size limits apply."""
    messages = validate_stored_messages(_json_object(), current_runtime().settings)
    return jsonify(_store().replace_messages(_owner(), conversation_id, messages))


@conversations_api.delete("/api/conversations/<conversation_id>")
def delete_conversation(conversation_id: str):
    """Delete the conversation and its messages: 204."""
    _store().delete(_owner(), conversation_id)
    return "", 204


@conversations_api.get("/api/conversations/<conversation_id>/export")
def export_conversation(conversation_id: str):
    """The conversation as a download: ``format=markdown`` (default) or ``json``."""
    chosen = _EXPORTS.get(request.args.get("format", "markdown"))
    if chosen is None:
        raise bad_request("'format' must be markdown or json.", "invalid_format")
    render, mimetype, extension = chosen
    conversation = _store().get(_owner(), conversation_id)
    name = file_name(conversation, extension)
    return Response(
        render(conversation),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
