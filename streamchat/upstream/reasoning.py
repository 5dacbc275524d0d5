"""What a request asks of a reasoning model: REASONING_EFFORT and REASONING_SUMMARY in
each API's field, those that are set (docs/models.md). Unset, nothing is sent and the
model keeps its own default. The conversation sent never carries reasoning: only role
and content of each message go upstream (streamchat.web.validation)."""

from __future__ import annotations

from ..settings.provider import ProviderSettings


def chat_reasoning_fields(provider: ProviderSettings) -> dict:
    """Chat Completions: ``reasoning_effort`` (it has no summary field)."""
    effort = provider.reasoning_effort
    return {"reasoning_effort": effort} if effort else {}


def responses_reasoning_fields(provider: ProviderSettings) -> dict:
    """Responses API: ``reasoning`` with ``effort`` and ``summary``, those that are set."""
    wanted = {"effort": provider.reasoning_effort, "summary": provider.reasoning_summary}
    reasoning = {key: value for key, value in wanted.items() if value}
    return {"reasoning": reasoning} if reasoning else {}
