"""Checks a chat request body and turns it into the messages sent upstream; a message's
content is text, or a list of text and image parts (streamchat.web.content_parts)."""

from __future__ import annotations

from ..errors import bad_request
from ..settings import Settings
from ..upstream.request import ChatRequest
from .content_parts import read_parts

CLIENT_ROLES = ("user", "assistant")


def _check_text(content: str, where: str) -> None:
    if "\x00" in content:
        raise bad_request(f"{where} contains a NUL character.", "invalid_content")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(f"{where} is not valid Unicode text.", "invalid_content") from None


def _message_list(body: object, settings: Settings) -> list:
    """The body's ``messages``: a non-empty list of at most MAX_MESSAGES."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list.", "invalid_messages")
    if len(messages) > settings.max_messages:
        raise bad_request(
            f"Too many messages: at most {settings.max_messages} per request.", "too_many_messages"
        )
    return messages


def _check_length(chars: int, where: str, settings: Settings) -> None:
    if chars > settings.max_message_chars:
        raise bad_request(
            f"{where} is too long: at most {settings.max_message_chars} characters.",
            "message_too_long",
        )


def _check_total(total_chars: int, settings: Settings) -> None:
    if total_chars > settings.max_total_chars:
        raise bad_request(
            f"The conversation is too long: at most {settings.max_total_chars} characters.",
            "conversation_too_long",
        )


def validate_chat_request(body: object, settings: Settings) -> ChatRequest:
    """Return the ChatRequest for ``body`` (parsed JSON) or raise a 400 ApiError."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", "invalid_body")

    model = body.get("model")
    if model is None:
        model = settings.openai_model
    elif not isinstance(model, str) or model not in settings.openai_models:
        raise bad_request(
            "Unknown model. Choose one of: " + ", ".join(settings.openai_models) + ".",
            "model_not_allowed",
        )

    messages = _message_list(body, settings)

    conversation: list[dict] = [{"role": "system", "content": settings.system_prompt}]
    total_chars = images = 0
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise bad_request(f"{where} must be an object.", "invalid_messages")
        role, content = message.get("role"), message.get("content")
        if role not in CLIENT_ROLES:
            # The system prompt is the server's; tool messages are not part of this API.
            raise bad_request(f"{where}.role must be 'user' or 'assistant'.", "invalid_role")
        content, chars, count = _content(content, where, role, settings)
        total_chars += chars
        images += count
        conversation.append({"role": role, "content": content})
    _check_total(total_chars, settings)
    if conversation[-1]["role"] != "user":
        raise bad_request("The last message must be from the user.", "invalid_messages")
    return ChatRequest(model, conversation, settings.max_output_tokens, images)


def _content(content: object, where: str, role: str, settings: Settings):
    """A message's content as sent upstream, its characters of text, and its images."""
    if isinstance(content, str):
        texts, parts, images = [content], None, 0
    elif isinstance(content, list):
        images_allowed = role == "user" and settings.images.max_per_message > 0
        parts, images = read_parts(content, where, images_allowed, settings.images)
        texts = [part["text"] for part in parts if part["type"] == "text"]
    else:
        raise bad_request(
            f"{where}.content must be a string or a list of parts.", "invalid_content"
        )
    chars = sum(len(text) for text in texts)
    _check_length(chars, where, settings)
    for text in texts:
        _check_text(text, where)
    if parts is None:
        return content, chars, 0
    if role == "assistant":
        # A reply goes back as text: the Responses API takes no input_text in one.
        return "".join(texts), chars, 0
    return parts, chars, images


STORED_STATES = ("done", "incomplete", "stopped", "error", "cut off")


def validate_stored_messages(body: object, settings: Settings) -> list[dict]:
    """The messages of POST /api/conversations/<id>/messages (a conversation kept in a
    browser, imported): role, content and a reply's state, within the same size limits
    as a chat request (MAX_MESSAGES, MAX_MESSAGE_CHARS, MAX_TOTAL_CHARS); else a 400."""
    messages = _message_list(body, settings)
    stored, total_chars = [], 0
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in CLIENT_ROLES:
            raise bad_request(f"{where}.role must be 'user' or 'assistant'.", "invalid_role")
        content, state = message.get("content"), message.get("state")
        if not isinstance(content, str):
            raise bad_request(f"{where}.content must be a string.", "invalid_content")
        _check_length(len(content), where, settings)
        _check_text(content, where)
        if message["role"] == "user":
            state = None
        elif state is None:
            state = "done"
        elif state not in STORED_STATES:
            raise bad_request(f"{where}.state must be one of {STORED_STATES}.", "invalid_state")
        total_chars += len(content)
        stored.append({"role": message["role"], "content": content, "state": state})
    _check_total(total_chars, settings)
    return stored
