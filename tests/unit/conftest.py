"""The unit tier: in-process tests only, seconds in all (``pytest tests/unit``).

A test that starts a real process belongs in tests/server/, whose folder marks it
``server``; one marked ``server`` or ``browser`` here would run with the wrong tier, so
collection stops on it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a ``server`` or ``browser`` mark on a test in this folder."""
    misplaced = [
        item.nodeid
        for item in items
        if HERE in item.path.parents
        and any(mark.name in ("server", "browser") for mark in item.iter_markers())
    ]
    if misplaced:
        raise pytest.UsageError(f"marked server or browser, but in tests/unit/: {misplaced}")
