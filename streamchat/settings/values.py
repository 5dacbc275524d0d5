"""Parsers for setting values: each names the variable in its error, so a bad value stops
start-up with one line that says what to fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from click import ClickException


class SettingsError(ValueError, ClickException):
    """A configuration value is malformed; the message names the variable.

    Also a ClickException, so ``flask run`` prints it as one ``Error:`` line instead of
    a traceback (wsgi.py does the same for gunicorn).
    """

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)
        ClickException.__init__(self, message)


def text(source: Mapping[str, Any], name: str, default: str | None) -> str | None:
    """The stripped value of ``name``, or ``default`` when unset or blank."""
    value = source.get(name)
    if value is None:
        return default
    value = str(value).strip()
    return value or default


def number(source: Mapping[str, Any], name: str, default: float, *, minimum: float) -> float:
    """``name`` as a finite float of at least ``minimum``; ``default`` when unset."""
    raw = text(source, name, None)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not value >= minimum or value == float("inf"):
        raise SettingsError(f"{name} must be a finite number >= {minimum:g}, got {raw!r}")
    return value


def integer(source: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    """``name`` as a whole number of at least ``minimum``; ``default`` when unset."""
    raw = text(source, name, None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {raw!r}")
    return value


def boolean(source: Mapping[str, Any], name: str, default: bool) -> bool:
    """``name`` as true/false (also 1/0, yes/no, on/off); ``default`` when unset."""
    raw = text(source, name, None)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def choice(source: Mapping[str, Any], name: str, default: str, allowed: tuple[str, ...]) -> str:
    """``name`` as one of ``allowed``; ``default`` when unset."""
    raw = text(source, name, default)
    if raw not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw
