"""Databases for the tests: a SQLite file with the schema made by the real migrations
(made once per test session, then copied for each test), and a private PostgreSQL on
127.0.0.1 (skipped without one, except under CI=true, where scripts/test installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from flask_migrate import upgrade

from tests.support.launch import free_port

_TEMPLATE: Path | None = None
PG_BIN = Path("/usr/lib/postgresql")


def migrate(url: str) -> None:
    """Run every migration on the database at ``url`` (``flask db upgrade``, in-process)."""
    from app import create_app

    app = create_app({"DATABASE_URL": url, "OPENAI_API_KEY": "", "AUTH": "none"})
    with app.app_context():
        upgrade()
        app.extensions["sqlalchemy"].engine.dispose()


def migrated_sqlite(folder: str | Path) -> str:
    """The URL of a fresh, migrated SQLite file in ``folder``."""
    global _TEMPLATE
    if _TEMPLATE is None:
        template = Path(tempfile.mkdtemp(prefix="streamchat-db-")) / "template.db"
        migrate(f"sqlite:///{template}")
        _TEMPLATE = template
    target = Path(folder) / "streamchat.db"
    shutil.copyfile(_TEMPLATE, target)
    return f"sqlite:///{target}"


def _postgres_bin() -> Path | None:
    versions = sorted(PG_BIN.glob("*/bin/initdb")) if PG_BIN.exists() else []
    return versions[-1].parent if versions else None


def _as_postgres_user() -> list[str]:
    # PostgreSQL refuses to run as root (CI runs as root): run it as its own user.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class Postgres:
    """A private PostgreSQL server on 127.0.0.1 with trust authentication, in a temporary
    folder; ``database()`` makes a fresh, migrated database on it."""

    def __init__(self) -> None:
        binaries = _postgres_bin()
        if binaries is None:
            if os.environ.get("CI") == "true":
                pytest.fail("PostgreSQL is missing; scripts/test installs it under CI")
            pytest.skip("PostgreSQL is not installed (CI installs it)")
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="streamchat-pg-"))
        data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        run = _as_postgres_user()
        subprocess.run(
            [*run, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        subprocess.run(
            [*run, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._pg_ctl = [*run, str(binaries / "pg_ctl"), "-D", str(data)]
        self._made = 0

    def url(self, name: str = "postgres") -> str:
        """The URL of database ``name``, in the scheme Heroku Postgres sets."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def database(self) -> str:
        """A fresh, migrated database's URL."""
        import psycopg

        self._made += 1
        name = f"streamchat_{os.getpid()}_{self._made}_{time.monotonic_ns()}"
        with psycopg.connect(
            self.url().replace("postgres://", "postgresql://"), autocommit=True
        ) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        url = self.url(name)
        migrate(url)
        return url

    def stop(self) -> None:
        """Stop the server now and remove its folder."""
        subprocess.run(
            [*self._pg_ctl, "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.folder, ignore_errors=True)
