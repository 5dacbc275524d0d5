"""The database: where what people keep lives (conversations, and sign-in sessions),
through SQLAlchemy 2 on SQLite (the default, a file in the instance folder) or
PostgreSQL (DATABASE_URL); docs/architecture.md, "The database".

Holds the declarative ``Base`` every table is mapped on (each table lives beside the
code that owns it, e.g. streamchat.conversations.tables), unguessable row ids, times as
integer milliseconds (the same on every database, exact in an ORDER BY), and how each
connection is set up (``prepare_engine``: SQLite's WAL and foreign keys). The schema is
changed only by the migrations in migrations/ (Alembic, through Flask-Migrate).

It imports nothing else of streamchat. The domain layers that keep rows import it;
streamchat.web wires the engine (Flask-SQLAlchemy) and app.py the migrations.
"""

from __future__ import annotations

import secrets
import time

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Constraint names that are the same on every database, so a migration can name them.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# 128 random bits, URL-safe: an id is as hard to guess as the run ids.
ID_BYTES = 16
ID_LENGTH = 22


class Base(DeclarativeBase):
    """What every table of streamchat is mapped on (one MetaData: Alembic's target)."""

    metadata = MetaData(naming_convention=_NAMING)


def new_id() -> str:
    """A fresh unguessable row id (22 URL-safe characters)."""
    return secrets.token_urlsafe(ID_BYTES)


def now_ms() -> int:
    """Now, in integer milliseconds since the epoch (how rows keep time)."""
    return time.time_ns() // 1_000_000


def prepare_engine(engine: Engine) -> None:
    """Set up each new connection of ``engine``: on SQLite, write-ahead logging (readers
    never wait for the writer), foreign keys on (so a conversation's messages go with
    it), and a wait of up to 5 s for another worker's write instead of an error."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL's "normal" syncs at checkpoints, not at every commit: a power cut can lose
        # the last commits, never corrupt the file.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
