"""The OpenAI SDK client the app uses for every request, built once in create_app."""

from __future__ import annotations

import httpx2
import openai

from ..settings import Settings
from .demo import DEMO_BASE_URL, DemoTransport
from .pools import upstream_http_client

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
    elif http_client is None:
        # Each open stream holds one pooled connection. The SDK's default pool (1,000)
        # would turn streams past it into a silent wait for a connection, so the pools
        # follow MAX_STREAMS_PER_WORKER.
        http_client = upstream_http_client(settings.max_streams_per_worker)
    return openai.OpenAI(
        api_key=settings.openai_api_key or _DEMO_API_KEY,
        base_url=settings.openai_base_url if not settings.demo else DEMO_BASE_URL,
        timeout=timeout,
        max_retries=settings.openai_max_retries,
        http_client=http_client,
        # An encoded stream is refused (streamchat.upstream.streams): ask for none.
        default_headers={"Accept-Encoding": "identity"},
    )
