"""Shared fixtures: the app with a fake SDK transport, and real servers on 127.0.0.1.

Fixtures only: the helpers they are built from, and that tests import, are in
tests/support/. The one hook here keeps every test module in a tier folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from app import create_app
from tests.support.environment import TEST_API_KEY, inherited
from tests.support.fake_upstream import FakeUpstream
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.redis_server import start_redis
from tests.support.transport import RecordingTransport

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "server", "browser")  # pyproject.toml's testpaths, in that order


def pytest_sessionstart(session: pytest.Session) -> None:
    """A test module outside the tier folders would never run (testpaths lists only them)."""
    strays = [
        str(path.relative_to(TESTS))
        for path in TESTS.rglob("test_*.py")
        if path.relative_to(TESTS).parts[0] not in TIERS
    ]
    if strays:
        raise pytest.UsageError(f"test modules outside tests/{{{','.join(TIERS)}}}/: {strays}")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    """No developer's real key or settings leak into a test."""
    for name in list(os.environ):
        if inherited(name):
            monkeypatch.delenv(name)


@pytest.fixture
def report(capsys):
    """``report(text)``: print a figure to the terminal even though pytest captures output,
    so measured numbers (soak, leak counts, time to first line) show in every CI log."""

    def write(text: str) -> None:
        with capsys.disabled():
            print(f"\n[figures] {text}")

    return write


@pytest.fixture
def make_app(tmp_path):
    """``make_app(handler, **settings)``: the app whose SDK talks to ``handler``, with
    its own machine file (SQLITE_PATH) for the counts its test makes."""

    def build(handler=None, **settings):
        transport = RecordingTransport(handler) if handler else None
        config = {
            "TESTING": True,
            "OPENAI_API_KEY": TEST_API_KEY,
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_MAX_RETRIES": "0",
            "RATE_LIMIT": "",
            # A run stops when its last reader leaves, unless a test is about runs
            # outliving their readers (tests/*/test_runs*.py set it).
            "RUN_GRACE_SECONDS": "0",
            "SQLITE_PATH": str(tmp_path / "counts.sqlite3"),
            **settings,
        }
        if transport:
            config["OPENAI_HTTP_CLIENT"] = httpx2.Client(transport=transport)
        app = create_app(config)
        app.transport = transport
        return app

    return build


@pytest.fixture
def app(make_app):
    """The app on the demo model, fast-paced."""
    return make_app(OPENAI_API_KEY="", DEMO_TOKENS_PER_SECOND="2000")


@pytest.fixture
def client(app):
    """Flask's test client for ``app``."""
    return app.test_client()


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeUpstream]:
    """The tests' own OpenAI-compatible upstream on 127.0.0.1."""
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def live_server(fake_upstream) -> Iterator[RunningServer]:
    """The real gunicorn + gevent server, one worker, talking to ``fake_upstream``."""
    server = start_gunicorn_against(
        fake_upstream.base_url,
        OPENAI_STREAM_USAGE="false",
        HEARTBEAT_SECONDS="0.5",
    )
    yield server
    server.stop()


@pytest.fixture
def redis():
    """A private redis-server on 127.0.0.1: (its URL, its process), which a test may stop."""
    url, process = start_redis()
    yield url, process
    if process.poll() is None:
        process.terminate()
        process.wait(10)
