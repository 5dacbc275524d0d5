"""Shared fixtures: the app with a fake SDK transport, and real servers on 127.0.0.1.

Fixtures, and the hooks that make the folders the tiers: tests/unit (in-process),
tests/server (real processes, marked ``server``), tests/browser (Chromium, marked
``browser``), so ``-m "not server and not browser"`` selects tests/unit. The helpers the
fixtures are built from, and that tests import, are in tests/support/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from app import create_app
from tests.support.database import Postgres, migrated_sqlite
from tests.support.environment import TEST_API_KEY, inherited
from tests.support.fake_upstream import FakeUpstream
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.redis_server import start_redis
from tests.support.transport import RecordingTransport

TESTS = Path(__file__).resolve().parent
# The tier folders, in the order pyproject.toml's testpaths runs them, and the mark each
# gives every test in it.
TIER_MARKS = {"unit": None, "server": pytest.mark.server, "browser": pytest.mark.browser}


def _tier(path: Path) -> str | None:
    """The tier folder ``path`` lies in, if any."""
    path = path.resolve()
    parts = path.relative_to(TESTS).parts if TESTS in path.parents else ()
    return parts[0] if len(parts) > 1 and parts[0] in TIER_MARKS else None


def pytest_sessionstart(session: pytest.Session) -> None:
    """A test module outside the tier folders would never run (testpaths lists only them)."""
    strays = [str(path.relative_to(TESTS)) for path in TESTS.rglob("test_*.py") if not _tier(path)]
    if strays:
        raise pytest.UsageError(f"test modules outside tests/{{{','.join(TIER_MARKS)}}}/: {strays}")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with its folder's tier; refuse a tier mark on a test in tests/unit,
    which would run there with ``pytest tests/unit`` and be left out by ``-m``."""
    misplaced = []
    for item in items:
        tier = _tier(item.path)
        if mark := TIER_MARKS.get(tier):
            item.add_marker(mark)
        elif tier == "unit" and any(m.name in ("server", "browser") for m in item.iter_markers()):
            misplaced.append(item.nodeid)
    if misplaced:
        raise pytest.UsageError(f"marked server or browser, but in tests/unit/: {misplaced}")


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
        if "DATABASE_URL" not in config:
            config["DATABASE_URL"] = migrated_sqlite(tmp_path)
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


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL on 127.0.0.1 for the session; ``postgres.database()`` gives a
    fresh, migrated database's URL."""
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, migrated database's URL: each test that takes it runs on SQLite and on a
    real PostgreSQL."""
    if request.param == "sqlite":
        return migrated_sqlite(tmp_path)
    return request.getfixturevalue("postgres").database()
