"""The sign-in audit trail: one JSON line per sign-in, sign-out, failed attempt and
lockout, through the same handler and format as the request log (``streamchat.audit``,
a child of the ``streamchat`` logger that web.requestlog configures).

Each line has the event, the client address (as the rate limits see it), the request id,
the user only when the name is a real user's (otherwise ``unknown``: a password typed
into the name field must never reach a log), and a hash of the session cookie (the one
the request sent; for a sign-in, the new one the response sets), never the cookie
itself: a sign-in's hash and the same session's sign-out hash are equal.
"""

from __future__ import annotations

import hashlib
import logging

from flask import current_app, g, request

from ..identity.cookies import SESSION_SAVED
from .ratelimit import client_address

AUDIT = logging.getLogger("streamchat.audit")
UNKNOWN = "unknown"


def cookie_hash(value: str | None) -> str | None:
    """A short hash naming a session cookie; None for no cookie."""
    if not value:
        return None
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _line(event: str, user: str | None, fields: dict) -> dict:
    record = g.get("request_record")
    return {
        "event": event,
        "address": client_address(),
        "user": user or UNKNOWN,
        "request_id": record.request_id if record is not None else None,
        **fields,
    }


def audit(event: str, user: str | None, **fields: object) -> None:
    """Write one audit line now, naming the session cookie the request sent. ``user``: a
    real user's name, else None (``unknown``)."""
    line = _line(event, user, fields)
    sent = request.cookies.get(current_app.config["SESSION_COOKIE_NAME"])
    AUDIT.info("audit", extra={**line, "session": cookie_hash(sent)})


def audit_new_session(event: str, user: str, **fields: object) -> None:
    """Write one audit line when the response sets its new session cookie, naming that
    cookie (a sign-in)."""
    line = _line(event, user, fields)

    def write(value: str | None) -> None:
        AUDIT.info("audit", extra={**line, "session": cookie_hash(value)})

    g.setdefault(SESSION_SAVED, []).append(write)
