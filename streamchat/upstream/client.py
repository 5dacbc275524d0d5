"""The OpenAI SDK client the app uses for every request, built once in create_app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import openai

from ..settings import Settings
from .azure import entra_token_provider
from .demo import DEMO_BASE_URL, DemoTransport
from .pools import upstream_http_client

# Not a secret: the demo transport never leaves the process and ignores it.
_DEMO_API_KEY = "demo-model-no-key"


def _key_and_base_url(
    settings: Settings, credential: Any
) -> tuple[str | Callable[[], str], str | None]:
    """What the client authenticates with and where it sends requests."""
    if settings.demo:
        return _DEMO_API_KEY, DEMO_BASE_URL
    azure = settings.provider
    if azure.azure_base_url is None:
        return settings.openai_api_key, settings.openai_base_url
    # Azure OpenAI's v1 endpoint takes a key as OpenAI's does, else an Entra ID token.
    key = settings.openai_api_key or entra_token_provider(
        azure.azure_base_url, azure.azure_client_id, credential
    )
    return key, azure.azure_base_url


def build_client(
    settings: Settings, http_client: httpx2.Client | None = None, credential: Any = None
) -> openai.OpenAI:
    """The sync OpenAI client the app uses for every request, built once in create_app.

    With no API key (and no Azure endpoint) the client talks to the in-process demo
    model, so the whole path but the network hop is the real one. With
    AZURE_OPENAI_ENDPOINT and no key it signs in with Microsoft Entra ID
    (streamchat.upstream.azure; ``credential`` replaces DefaultAzureCredential).
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
    api_key, base_url = _key_and_base_url(settings, credential)
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        max_retries=settings.openai_max_retries,
        http_client=http_client,
        # An encoded stream is refused (streamchat.upstream.streams): ask for none.
        default_headers={"Accept-Encoding": "identity"},
    )
