"""The budget settings: TOKEN_BUDGET and GLOBAL_TOKEN_BUDGET (``N/period`` in
Flask-Limiter's notation), and which request field carries the output cap upstream
(MAX_TOKENS_FIELD, ``auto`` by default)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .values import SettingsError, choice, text

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


@dataclass(frozen=True)
class BudgetSetting:
    """One budget as configured: ``amount`` tokens per ``period_seconds``."""

    text: str
    amount: int
    period_seconds: int


def budget(source: Mapping[str, Any], name: str) -> BudgetSetting | None:
    """``name`` as a budget such as ``100000/day`` or ``300 per hour``; None when unset."""
    from limits import parse  # only needed here, at start-up

    value = text(source, name, None)
    if value is None:
        return None
    try:
        item = parse(value)
    except ValueError:
        item = None
    if item is None or ";" in value or item.amount < 1:
        raise SettingsError(
            f"{name} must look like '100000/day' or '300/hour' (tokens per period), got {value!r}"
        )
    return BudgetSetting(value, item.amount, item.get_expiry())


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
