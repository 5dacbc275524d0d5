"""Sign-in sessions kept in the database, so one can be ended: a row per sign-in, its id
in the signed session cookie. Sign-out deletes the row and the cookie names nobody from
then on, on every worker and instance.

Checking a session costs a dictionary look-up on most requests: each worker keeps what
it read for ``CHECK_SECONDS`` (1 s), so an ended session is refused everywhere within
that, and reads the row again only then. While the database cannot be reached, a
session the worker saw live in the last ``OUTAGE_GRACE_SECONDS`` goes on working, and
any other is refused (503). When it was last seen is written at most once
per ``TOUCH_SECONDS`` per session, never per request.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    String,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..database import ID_BYTES, ID_LENGTH, Base, now_ms
from .throttle import SignInUnavailable

LOG = logging.getLogger("streamchat.identity")
CHECK_SECONDS = 1.0
TOUCH_SECONDS = 60.0
# While the database cannot be reached, a session this worker saw live this recently
# goes on working (its replies still stream; nothing can be signed out meanwhile
# anyway); one it has not seen is refused (503).
OUTAGE_GRACE_SECONDS = 300.0
_CACHE_MAX = 10_000
_DAY_MS = 86_400_000

SESSIONS = Table(
    "sessions",
    Base.metadata,
    Column("id", String(ID_LENGTH), primary_key=True),
    Column("user_id", String(200), nullable=False),  # an Identity's id: user:NAME, oidc:EMAIL
    Column("created_ms", BigInteger, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("user_agent", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Index("ix_sessions_user_id", "user_id"),
)
_READ = select(SESSIONS.c.user_id, SESSIONS.c.created_ms, SESSIONS.c.last_seen_ms).where(
    SESSIONS.c.id == bindparam("session_id")
)
_TOUCH = (
    update(SESSIONS)
    .where(SESSIONS.c.id == bindparam("session_id"))
    .values(last_seen_ms=bindparam("stamp"))
)


def session_hash(session_id: str | None) -> str | None:
    """What a log line may say of a session: a short hash, never the id itself."""
    if not session_id:
        return None
    return hashlib.sha256(session_id.encode()).hexdigest()[:16]


@dataclass
class _Seen:
    checked_at: float  # time.monotonic() of the read
    user_id: str | None  # None: no such session
    created_ms: int = 0
    last_seen_ms: int = 0


class SessionStore:
    """The sessions on ``engine``: made at sign-in, checked per request, ended at
    sign-out (one, or all of a user's)."""

    def __init__(self, engine: Engine, lifetime_days: float, idle_days: float) -> None:
        self.engine = engine
        self._lifetime_ms = int(lifetime_days * _DAY_MS)
        self._idle_ms = int(idle_days * _DAY_MS)
        self._seen: dict[str, _Seen] = {}

    @contextlib.contextmanager
    def _connection(self) -> Iterator:
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as error:
            LOG.warning("session_store_unavailable", extra={"error": type(error).__name__})
            raise SignInUnavailable() from None

    def start(self, user_id: str, user_agent: str, address: str) -> str:
        """A new session of ``user_id``: its id, for the signed cookie."""
        session_id = secrets.token_urlsafe(ID_BYTES)
        stamp = now_ms()
        with self._connection() as connection:
            connection.execute(
                insert(SESSIONS),
                {
                    "id": session_id,
                    "user_id": user_id,
                    "created_ms": stamp,
                    "last_seen_ms": stamp,
                    "user_agent": user_agent[:200],
                    "address": address[:64],
                },
            )
        return session_id

    def is_live(self, session_id: str | None, user_id: str) -> bool:
        """Whether ``session_id`` is a session of ``user_id`` that has not ended (signed
        out, past SESSION_DAYS, or idle past SESSION_IDLE_DAYS). Raises
        SignInUnavailable when the database cannot say."""
        if not session_id:
            return False
        now = time.monotonic()
        seen = self._seen.get(session_id)
        if seen is None or now - seen.checked_at >= CHECK_SECONDS:
            try:
                seen = self._read(session_id, now)
            except SignInUnavailable:
                recent = seen is not None and now - seen.checked_at < OUTAGE_GRACE_SECONDS
                if not (recent and seen.user_id == user_id):
                    raise
                return True
        if seen.user_id != user_id:
            return False
        stamp = now_ms()
        if stamp - seen.created_ms > self._lifetime_ms or stamp - seen.last_seen_ms > self._idle_ms:
            return False
        if stamp - seen.last_seen_ms > TOUCH_SECONDS * 1000:
            with self._connection() as connection:
                connection.execute(_TOUCH, {"session_id": session_id, "stamp": stamp})
            seen.last_seen_ms = stamp
        return True

    def _read(self, session_id: str, now: float) -> _Seen:
        with self._connection() as connection:
            row = connection.execute(_READ, {"session_id": session_id}).first()
        seen = _Seen(now, None) if row is None else _Seen(now, *row)
        if len(self._seen) >= _CACHE_MAX:
            self._seen.clear()  # many sessions in a second: start over rather than grow
        self._seen[session_id] = seen
        return seen

    def end(self, session_id: str | None) -> None:
        """End one session (sign-out)."""
        if not session_id:
            return
        with self._connection() as connection:
            connection.execute(delete(SESSIONS).where(SESSIONS.c.id == session_id))
        self._seen.pop(session_id, None)

    def end_all(self, user_id: str) -> int:
        """End every session of ``user_id`` (sign out everywhere): how many there were."""
        with self._connection() as connection:
            ended = connection.execute(delete(SESSIONS).where(SESSIONS.c.user_id == user_id))
        for session_id in [k for k, v in self._seen.items() if v.user_id == user_id]:
            del self._seen[session_id]
        return ended.rowcount
