"""Builds the OpenAI client and opens streamed requests on it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import openai

from .demo import DEMO_BASE_URL, DemoTransport
from .errors import bad_upstream_reply, from_upstream_exception
from .relay import UpstreamEventError
from .settings import Settings
from .validation import ChatRequest

# Not a secret: the demo transport never leaves the process and ignores it.
_DEMO_API_KEY = "demo-model-no-key"


def build_client(settings: Settings, http_client: httpx2.Client | None = None) -> openai.OpenAI:
    """The sync OpenAI client the app uses for every request, built once in create_app.

    With no API key the client talks to the in-process demo model, so the whole path
    but the network hop is the real one.
    """
    timeout = httpx2.Timeout(
        connect=settings.upstream_connect_timeout_seconds,
        read=settings.upstream_read_timeout_seconds,
        write=30.0,
        pool=settings.upstream_connect_timeout_seconds,
    )
    if settings.demo and http_client is None:
        http_client = httpx2.Client(transport=DemoTransport(settings.demo_tokens_per_second))
    return openai.OpenAI(
        api_key=settings.openai_api_key or _DEMO_API_KEY,
        base_url=settings.openai_base_url if not settings.demo else DEMO_BASE_URL,
        timeout=timeout,
        max_retries=settings.openai_max_retries,
        http_client=http_client,
    )


class ServerShuttingDown(UpstreamEventError):
    """This worker is shutting down and ended the stream before its grace period ran out."""

    def __init__(self) -> None:
        super().__init__(
            "server_shutting_down",
            "The server is restarting, so this reply was cut short. Send it again in a moment.",
        )


class UpstreamStream:
    """An open streamed upstream response: its body chunks, and a way to close it."""

    def __init__(self, response) -> None:
        self._response = response
        self.closed = False
        self.ended_by_server = False

    def chunks(self) -> Iterator[bytes]:
        """Raw body bytes as they arrive (content-encoding undone)."""
        try:
            yield from self._response.http_response.iter_bytes()
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


def _open(create, model: str, **arguments) -> UpstreamStream:
    """Open a streamed request through an SDK ``with_streaming_response.create``."""
    try:
        # The raw-response API: the SDK builds the request, authenticates, retries the
        # connect and maps error statuses, but we read the body bytes ourselves.
        response = create(model=model, stream=True, **arguments).__enter__()
    except openai.APIError as exc:
        raise from_upstream_exception(exc, model) from None
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith("text/event-stream"):
        response.close()
        raise bad_upstream_reply()
    return UpstreamStream(response)


def open_chat_stream(
    client: openai.OpenAI, chat: ChatRequest, settings: Settings
) -> UpstreamStream:
    """Send a Chat Completions request with streaming on and return the open response.

    Raises ApiError when the upstream refuses before the stream starts.
    """
    extra: dict = {}
    if settings.openai_stream_usage:
        extra["stream_options"] = {"include_usage": True}
    if settings.max_output_tokens:
        # OpenAI's reasoning models take only max_completion_tokens; Ollama and some
        # other servers only max_tokens. MAX_TOKENS_FIELD says which.
        extra[settings.max_tokens_field] = settings.max_output_tokens
    return _open(
        client.chat.completions.with_streaming_response.create,
        chat.model,
        messages=chat.messages,
        **extra,
    )


def open_responses_stream(
    client: openai.OpenAI, chat: ChatRequest, settings: Settings
) -> UpstreamStream:
    """Send a Responses API request with streaming on and return the open response.

    The system prompt goes in ``instructions``; the conversation is the ``input``.
    Raises ApiError when the upstream refuses before the stream starts.
    """
    system, *conversation = chat.messages
    extra: dict = {}
    if settings.max_output_tokens:
        extra["max_output_tokens"] = settings.max_output_tokens
    return _open(
        client.responses.with_streaming_response.create,
        chat.model,
        instructions=system["content"],
        input=conversation,
        store=False,
        **extra,
    )
