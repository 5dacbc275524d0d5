"""Where conversations (and sign-in sessions) are kept: DATABASE_URL, and the limits on
what one person keeps there, parsed and checked at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .values import SettingsError, integer, text

# Heroku Postgres sets postgres://; SQLAlchemy's own name is postgresql://, and its
# default driver for that is psycopg2. We ship psycopg 3.
_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
}


@dataclass(frozen=True)
class DatabaseSettings:
    """DATABASE_URL (None: a SQLite file in the instance folder),
    MAX_CONVERSATIONS_PER_USER and MAX_STORED_IMAGE_BYTES_PER_USER."""

    url: str | None = None
    max_conversations_per_user: int = 10_000
    max_stored_image_bytes_per_user: int = 200_000_000

    def __repr__(self) -> str:
        # A database URL carries its password: never in a log line or a traceback.
        shown = self.url.partition("://")[0] + "://..." if self.url else None
        return f"DatabaseSettings(url={shown!r}, ...)"


def sqlalchemy_url(raw: str) -> str:
    """``raw`` as the URL SQLAlchemy takes: ``postgres://`` and ``postgresql://`` use
    psycopg 3; any other SQLAlchemy URL (``sqlite:///path``) passes as it is."""
    scheme, separator, rest = raw.partition("://")
    if not separator or not scheme:
        raise SettingsError(
            "DATABASE_URL must be a database URL such as postgresql://user@host/db "
            "or sqlite:///path/to/file.sqlite3, got a value without a scheme"
        )
    return f"{_DRIVERS.get(scheme.lower(), scheme)}://{rest}"


def load_database_settings(source: Mapping[str, Any]) -> DatabaseSettings:
    """The database settings from ``source`` (the environment and create_app's overrides)."""
    raw = text(source, "DATABASE_URL", None)
    return DatabaseSettings(
        url=sqlalchemy_url(raw) if raw else None,
        max_conversations_per_user=integer(source, "MAX_CONVERSATIONS_PER_USER", 10_000, minimum=1),
        max_stored_image_bytes_per_user=integer(
            source, "MAX_STORED_IMAGE_BYTES_PER_USER", 200_000_000, minimum=0
        ),
    )
