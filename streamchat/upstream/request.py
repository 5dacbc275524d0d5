"""The request sent upstream: a validated conversation (ChatRequest, built by
streamchat.web.validation) and the JSON body each API takes for it."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings


@dataclass(frozen=True)
class ChatRequest:
    """A validated request: the model to use, the conversation (system prompt first),
    and the output cap to send (MAX_OUTPUT_TOKENS, or less when a budget is nearly
    spent; 0 sends none)."""

    model: str
    messages: list[dict[str, str]]
    max_output_tokens: int = 0


def chat_completions_body(chat: ChatRequest, settings: Settings) -> dict:
    """The body of a streamed Chat Completions request."""
    body: dict = {"model": chat.model, "messages": chat.messages, "stream": True}
    if settings.openai_stream_usage:
        body["stream_options"] = {"include_usage": True}
    if chat.max_output_tokens:
        # OpenAI's reasoning models take only max_completion_tokens; Ollama, llama.cpp
        # and vLLM read max_tokens. MAX_TOKENS_FIELD (auto: by host) says which.
        body[settings.max_tokens_field] = chat.max_output_tokens
    return body


def responses_body(chat: ChatRequest, settings: Settings) -> dict:
    """The body of a streamed Responses API request: the system prompt goes in
    ``instructions``, the conversation is the ``input``."""
    system, *conversation = chat.messages
    body: dict = {
        "model": chat.model,
        "instructions": system["content"],
        "input": conversation,
        "store": False,
        "stream": True,
    }
    if chat.max_output_tokens:
        body["max_output_tokens"] = chat.max_output_tokens
    return body
