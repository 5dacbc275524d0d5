"""The sign-in audit trail: one JSON line per sign-in, sign-out, failed attempt and
lockout, through the same handler and format as the request log (``streamchat.audit``,
a child of the ``streamchat`` logger that web.requestlog configures).

Each line has the event, the client address (as the rate limits see it), the request id,
the user only when the name is a real user's (otherwise ``unknown``: a password typed
into the name field must never reach a log), and a hash of the session's id
(streamchat.identity.sessions), never the id or the cookie: a sign-in's hash and the
same session's sign-out hash are equal.
"""

from __future__ import annotations

import logging

from flask import g, session

from ..identity.session import SESSION_KEY
from ..identity.sessions import session_hash
from .ratelimit import client_address

AUDIT = logging.getLogger("streamchat.audit")
UNKNOWN = "unknown"


def _line(event: str, user: str | None, fields: dict) -> dict:
    record = g.get("request_record")
    return {
        "event": event,
        "address": client_address(),
        "user": user or UNKNOWN,
        "request_id": record.request_id if record is not None else None,
        **fields,
    }


def audit(event: str, user: str | None, session_id: str | None = None, **fields: object) -> None:
    """Write one audit line now. ``user``: a real user's name, else None (``unknown``);
    the session named by its hash: ``session_id`` (a sign-in's new one), else the
    request's own."""
    line = _line(event, user, fields)
    named = session_id or session.get(SESSION_KEY)
    AUDIT.info("audit", extra={**line, "session": session_hash(named)})
