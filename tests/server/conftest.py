"""The server tier: every test in this folder starts real processes (gunicorn, flask run,
redis-server, openssl, bench/) bound to 127.0.0.1, and is marked ``server`` from here,
so ``-m "not server and not browser"`` still selects the unit tier (tests/unit/).

Fixtures shared with the browser tier (fake_upstream, live_server, redis) are in
tests/conftest.py; helpers in tests/support/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder ``server``, so ``-m "not server"`` leaves it out."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.server)
