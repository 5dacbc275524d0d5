"""The upstream request's settings that depend on where it goes: which request field
carries the output cap (MAX_TOKENS_FIELD, ``auto`` by default: by the upstream's host)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .values import choice

# Hosts that take max_completion_tokens (OpenAI's reasoning models refuse max_tokens):
# OpenAI itself and Azure's OpenAI endpoints. Every other server (Ollama, llama.cpp's
# and llama-cpp-python's servers, vLLM) is sent max_tokens, the field they all read.
_COMPLETION_TOKENS_HOSTS = ("api.openai.com",)
_COMPLETION_TOKENS_SUFFIXES = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
)
MAX_TOKENS_FIELDS = ("auto", "max_completion_tokens", "max_tokens")


def max_tokens_field(source: Mapping[str, Any], base_url: str | None) -> str:
    """The request field that carries the output cap: MAX_TOKENS_FIELD, where ``auto``
    (the default) picks by the upstream's host."""
    value = choice(source, "MAX_TOKENS_FIELD", "auto", MAX_TOKENS_FIELDS)
    if value != "auto":
        return value
    host = (urlsplit(base_url).hostname or "").lower() if base_url else "api.openai.com"
    if host in _COMPLETION_TOKENS_HOSTS or host.endswith(_COMPLETION_TOKENS_SUFFIXES):
        return "max_completion_tokens"
    return "max_tokens"
