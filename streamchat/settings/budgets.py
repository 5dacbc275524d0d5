"""The budget settings: TOKEN_BUDGET and GLOBAL_TOKEN_BUDGET (``N/period`` in
Flask-Limiter's notation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .values import SettingsError, text


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
