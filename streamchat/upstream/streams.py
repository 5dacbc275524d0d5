"""Opens streamed requests upstream through the SDK, and holds each open response.

The view hands a validated ChatRequest to ``open_chat_stream`` or
``open_responses_stream``; the UpstreamStream they return gives the relay its body
bytes and is closed when the stream ends, however it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import openai

from ..relay.pacing import WriteMark
from ..relay.protocols import UpstreamEventError
from ..relay.source import read_body
from ..settings import Settings
from .reasoning import chat_reasoning_fields, responses_reasoning_fields
from .refusals import bad_upstream_reply, from_upstream_exception


@dataclass(frozen=True)
class ChatRequest:
    """A validated request: the model to use, the conversation (system prompt first),
    and the output cap to send (MAX_OUTPUT_TOKENS, or less when a budget is nearly
    spent; 0 sends none)."""

    model: str
    messages: list[dict[str, str]]
    max_output_tokens: int = 0


class ServerShuttingDown(UpstreamEventError):
    """This worker is shutting down and ended the stream before its grace period ran out."""

    def __init__(self) -> None:
        super().__init__(
            "server_shutting_down",
            "The server is restarting, so this reply was cut short. Send it again in a moment.",
        )


class UpstreamStream:
    """An open streamed upstream response: its body chunks, and a way to close it."""

    def __init__(self, response: httpx2.Response) -> None:
        self._response = response
        self.closed = False
        self.ended_by_server = False
        self.direct: bool | None = None

    def body(
        self, heartbeat_seconds: float, read_timeout_seconds: float, mark: WriteMark | None = None
    ) -> Iterator[bytes | None]:
        """Raw body bytes as they arrive, and ``None`` whenever ``heartbeat_seconds``
        have passed since ``mark`` (the last write toward the client), from the per-chunk
        path's seam (streamchat.relay.source): straight off the socket where it can, else
        the fallback. ``self.direct`` says which.
        """
        source, self.direct = read_body(
            self._response, heartbeat_seconds, read_timeout_seconds, mark or WriteMark()
        )
        return self._ended_by_us_or_upstream(source)

    def _ended_by_us_or_upstream(self, source: Iterator[bytes | None]) -> Iterator[bytes | None]:
        # A read that fails because end_for_shutdown closed the connection is no
        # upstream fault: it becomes the shutdown error line.
        try:
            yield from source
        except Exception:
            if self.ended_by_server:
                raise ServerShuttingDown() from None
            raise
        if self.ended_by_server:
            raise ServerShuttingDown()

    def end_for_shutdown(self) -> None:
        """End the stream because the server is stopping: the relay then sends the
        shutdown error line (the read in progress fails, and that is how it learns)."""
        self.ended_by_server = True
        self.close()

    def close(self) -> None:
        """Close the upstream connection; safe to call more than once, from anywhere."""
        if not self.closed:
            self.closed = True
            self._response.close()


def open_stream(client: openai.OpenAI, path: str, body: dict) -> UpstreamStream:
    """POST ``body`` to ``path`` with streaming on and return the open, unread response.

    ``client.post`` with ``cast_to=httpx2.Response`` is the SDK's documented way to send a
    request it need not model: it still authenticates, retries the connect and turns
    error statuses into exceptions, but skips ``create()``'s walk of every message
    through the typed-dict transform (milliseconds per request on a long conversation),
    since ``validate_chat_request`` has already made the body plain JSON.
    """
    try:
        response = client.post(
            path, cast_to=httpx2.Response, body=body, stream=True, stream_cls=openai.Stream
        )
    except openai.APIError as exc:
        raise from_upstream_exception(exc, body["model"]) from None
    content_type = response.headers.get("content-type", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    # The client asks for identity (streamchat.upstream.client). An encoded body is
    # refused rather than inflated: a few KB of gzip can decode to hundreds of MB.
    if not content_type.startswith("text/event-stream") or encoding != "identity":
        response.close()
        raise bad_upstream_reply()
    return UpstreamStream(response)


def open_chat_stream(
    client: openai.OpenAI, chat: ChatRequest, settings: Settings
) -> UpstreamStream:
    """Send a Chat Completions request with streaming on and return the open response.

    Raises ApiError when the upstream refuses before the stream starts.
    """
    body: dict = {"model": chat.model, "messages": chat.messages, "stream": True}
    if settings.openai_stream_usage:
        body["stream_options"] = {"include_usage": True}
    if chat.max_output_tokens:
        # OpenAI's reasoning models take only max_completion_tokens; Ollama, llama.cpp
        # and vLLM read max_tokens. MAX_TOKENS_FIELD (auto: by host) says which.
        body[settings.max_tokens_field] = chat.max_output_tokens
    body.update(chat_reasoning_fields(settings.provider))
    return open_stream(client, "/chat/completions", body)


def open_responses_stream(
    client: openai.OpenAI, chat: ChatRequest, settings: Settings
) -> UpstreamStream:
    """Send a Responses API request with streaming on and return the open response.

    The system prompt goes in ``instructions``; the conversation is the ``input``.
    Raises ApiError when the upstream refuses before the stream starts.
    """
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
    body.update(responses_reasoning_fields(settings.provider))
    return open_stream(client, "/responses", body)
