"""The request sent upstream: a validated conversation (ChatRequest, built by
streamchat.web.validation) and the JSON body each API takes for it.

A message's content is a string, or a list of Chat Completions content parts
(``{"type": "text", "text"}``, ``{"type": "image_url", "image_url": {"url", "detail"?}}``
with a data: URL), whichever API the client called; ``responses_body`` turns parts into
the Responses API's ``input_text`` and ``input_image``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings
from .reasoning import chat_reasoning_fields, responses_reasoning_fields


@dataclass(frozen=True)
class ChatRequest:
    """A validated request: the model to use, the conversation (system prompt first),
    and the output cap to send (MAX_OUTPUT_TOKENS, or less when a budget is nearly
    spent; 0 sends none)."""

    model: str
    messages: list[dict]
    max_output_tokens: int = 0
    images: int = 0  # image parts in the conversation


def chat_completions_body(chat: ChatRequest, settings: Settings) -> dict:
    """The body of a streamed Chat Completions request."""
    body: dict = {"model": chat.model, "messages": chat.messages, "stream": True}
    if settings.openai_stream_usage:
        body["stream_options"] = {"include_usage": True}
    if chat.max_output_tokens:
        # OpenAI's reasoning models take only max_completion_tokens; Ollama, llama.cpp
        # and vLLM read max_tokens. MAX_TOKENS_FIELD (auto: by host) says which.
        body[settings.max_tokens_field] = chat.max_output_tokens
    body.update(chat_reasoning_fields(settings.provider))
    return body


def responses_body(chat: ChatRequest, settings: Settings) -> dict:
    """The body of a streamed Responses API request: the system prompt goes in
    ``instructions``, the conversation is the ``input``."""
    system, *conversation = chat.messages
    body: dict = {
        "model": chat.model,
        "instructions": system["content"],
        "input": [_responses_message(message) for message in conversation],
        "store": False,
        "stream": True,
    }
    if chat.max_output_tokens:
        body["max_output_tokens"] = chat.max_output_tokens
    body.update(responses_reasoning_fields(settings.provider))
    return body


def _responses_message(message: dict) -> dict:
    content = message["content"]
    if isinstance(content, str):
        return message
    return {"role": message["role"], "content": [_responses_part(part) for part in content]}


def _responses_part(part: dict) -> dict:
    if part["type"] == "text":
        return {"type": "input_text", "text": part["text"]}
    image = part["image_url"]
    # The Responses API's input_image names its detail; "auto" is what a chat part
    # without one means.
    return {"type": "input_image", "image_url": image["url"], "detail": image.get("detail", "auto")}
