"""The environment tests run in: the repository root, the test key, and the settings a
developer's shell may hold that no test and no server under test may inherit."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# Shaped so nobody mistakes it for a real key, and so a leak is easy to grep for.
TEST_API_KEY = "test-key-not-real-0123456789"


def settings_read_by_the_code() -> set[str]:
    """Every environment variable streamchat/settings/ and gunicorn.conf.py read."""
    settings = "".join(p.read_text() for p in sorted((ROOT / "streamchat/settings").glob("*.py")))
    gunicorn = (ROOT / "gunicorn.conf.py").read_text()
    names = set(re.findall(r'source,\s*"([A-Z][A-Z_]+)"', settings))
    names |= set(re.findall(r'source\.get\("([A-Z][A-Z_]+)"\)', settings))
    names |= set(re.findall(r"os\.environ\.get\(\s*[\"']([A-Z][A-Z_]+)[\"']", gunicorn))
    return names


# A developer's shell may set any of these (a real key above all); no test inherits them.
SETTING_NAMES = frozenset(settings_read_by_the_code())


def inherited(name: str) -> bool:
    """Whether ``name`` is a setting of ours, which a test must not take from the shell."""
    return name in SETTING_NAMES or name.startswith(("OPENAI_", "DEMO_"))


def server_env(**settings: str) -> dict[str, str]:
    """The environment for a server under test: loopback only, no inherited secrets."""
    env = {k: v for k, v in os.environ.items() if not inherited(k)}
    # Rate limiting is off unless a test is about it: suites send many requests from one
    # address. A run stops when its last reader leaves unless a test is about runs.
    env.update(
        {
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "1",
            "PYTHONUNBUFFERED": "1",
            "RATE_LIMIT": "",
            "RUN_GRACE_SECONDS": "0",
        }
    )
    # Nor from a .env file a developer keeps at the repository root (wsgi.py and flask
    # run read it for anything unset): it would fill in the settings stripped above.
    env.update({"PYTHON_DOTENV_DISABLED": "1", "FLASK_SKIP_DOTENV": "1"})
    # Each server its own machine file (budgets, failed sign-ins): counts left by an
    # earlier test or run must not carry over. Its workers share it, as in production.
    folder = tempfile.mkdtemp(prefix="streamchat-")
    env["SQLITE_PATH"] = os.path.join(folder, "counts.sqlite3")
    if "DATABASE_URL" not in settings:
        # And its own database, migrated (conversations and sessions with AUTH set).
        from tests.support.database import migrated_sqlite

        env["DATABASE_URL"] = migrated_sqlite(folder)
    env.update(settings)
    return env
