"""Model-provider settings beyond the key: what reasoning models are asked for
(REASONING_EFFORT, REASONING_SUMMARY) and Azure OpenAI (AZURE_OPENAI_ENDPOINT, with
Microsoft Entra ID when no key is set; AZURE_CLIENT_ID). docs/models.md says what each does.

Read by ``load_settings`` (app_settings.py); kept apart so that file keeps one job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .values import SettingsError, text

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
REASONING_SUMMARIES = ("auto", "concise", "detailed")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_V1_PATH = "/openai/v1"


@dataclass(frozen=True)
class ProviderSettings:
    """What reasoning models are asked for, and the Azure OpenAI resource (if any)."""

    reasoning_effort: str | None = None  # REASONING_EFFORT; None: not sent
    reasoning_summary: str | None = None  # REASONING_SUMMARY; None: not sent
    azure_base_url: str | None = None  # <AZURE_OPENAI_ENDPOINT>/openai/v1/
    azure_client_id: str | None = None  # AZURE_CLIENT_ID


def load_provider_settings(source: Mapping[str, Any]) -> ProviderSettings:
    """ProviderSettings from ``source``; a bad value stops start-up with one line."""
    return ProviderSettings(
        reasoning_effort=optional_choice(source, "REASONING_EFFORT", REASONING_EFFORTS),
        reasoning_summary=optional_choice(source, "REASONING_SUMMARY", REASONING_SUMMARIES),
        azure_base_url=azure_base_url(source),
        azure_client_id=text(source, "AZURE_CLIENT_ID", None),
    )


def optional_choice(source: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    """``name`` as one of ``allowed``; None when unset (then nothing is sent)."""
    raw = text(source, name, None)
    if raw is not None and raw not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)} or unset, got {raw!r}")
    return raw


def azure_base_url(source: Mapping[str, Any]) -> str | None:
    """The v1 base URL (``<endpoint>/openai/v1/``) of AZURE_OPENAI_ENDPOINT; None when unset.

    https only: a Microsoft Entra ID token is a bearer secret (plain http is let through
    for a loopback address, where tests run a fake upstream).
    """
    raw = text(source, "AZURE_OPENAI_ENDPOINT", None)
    if raw is None:
        return None
    if text(source, "OPENAI_BASE_URL", None) is not None:
        raise SettingsError(
            "Set AZURE_OPENAI_ENDPOINT or OPENAI_BASE_URL, not both: "
            "the base URL of Azure OpenAI is <endpoint>/openai/v1/"
        )
    parts = urlsplit(raw)
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    if not secure or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            "AZURE_OPENAI_ENDPOINT must be the resource's https URL, such as "
            f"https://NAME.openai.azure.com, got {raw!r}"
        )
    root = raw.rstrip("/")
    if root.endswith(_V1_PATH):
        root = root[: -len(_V1_PATH)]
    return f"{root}{_V1_PATH}/"
