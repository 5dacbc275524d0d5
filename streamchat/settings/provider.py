"""Model-provider settings beyond the key: what reasoning models are asked for
(REASONING_EFFORT, REASONING_SUMMARY). docs/models.md says what each does.

Read by ``load_settings`` (app_settings.py); kept apart so that file keeps one job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .values import SettingsError, text

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
REASONING_SUMMARIES = ("auto", "concise", "detailed")


def optional_choice(source: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    """``name`` as one of ``allowed``; None when unset (then nothing is sent)."""
    raw = text(source, name, None)
    if raw is not None and raw not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)} or unset, got {raw!r}")
    return raw
