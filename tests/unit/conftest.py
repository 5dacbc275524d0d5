"""Fixtures for the unit tier (in-process only); the shared ones are in tests/conftest.py."""

from __future__ import annotations

import pytest

from tests.support.signin import ok_upstream, password_settings


@pytest.fixture
def password_app(make_app):
    """``password_app(**settings)``: the app with AUTH=password (alice, bob and the ``ci``
    token, tests.support.signin) whose upstream streams a short reply."""

    def build(**settings):
        return make_app(ok_upstream, **password_settings(**settings))

    return build
