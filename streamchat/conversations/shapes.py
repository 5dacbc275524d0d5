"""Rows as the API shows them (JSON-ready dicts), and the paging cursor."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ..database import ID_LENGTH
from .errors import BadCursor
from .tables import Conversation, Message

_CURSOR = re.compile(rf"(\d{{1,16}})\.([A-Za-z0-9_-]{{{ID_LENGTH}}})")
TITLE_FROM_MESSAGE_CHARS = 80


def iso(ms: int) -> str:
    """``ms`` (epoch milliseconds) as an ISO 8601 UTC time, e.g. 2026-12-06T13:40:00.123Z."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def conversation_summary(row: Conversation) -> dict:
    """What the sidebar lists of a conversation."""
    return {
        "id": row.id,
        "title": row.title,
        "model": row.model,
        "created_at": iso(row.created_ms),
        "updated_at": iso(row.updated_ms),
    }


def message_shape(row: Message) -> dict:
    """One message as GET /api/conversations/<id> shows it."""
    shape = {
        "id": row.id,
        "role": row.role,
        "content": row.content,
        "state": row.state,
        "created_at": iso(row.created_ms),
    }
    for name in ("reasoning", "usage", "error"):
        value = getattr(row, name)
        if value is not None:
            shape[name] = value
    return shape


def cursor_after(row: Conversation) -> str:
    """The cursor that pages on from ``row`` (the last one listed)."""
    return f"{row.updated_ms}.{row.id}"


def read_cursor(cursor: str) -> tuple[int, str]:
    """``cursor`` as (updated_ms, id); BadCursor when this server did not make it."""
    found = _CURSOR.fullmatch(cursor)
    if found is None:
        raise BadCursor()
    return int(found.group(1)), found.group(2)


def text_of(content: str | list) -> str:
    """The text of a message's content: itself, or its text parts joined."""
    if isinstance(content, str):
        return content
    texts = [part.get("text", "") for part in content if isinstance(part, dict)]
    return " ".join(t for t in texts if isinstance(t, str))


def title_from(content: str | list) -> str:
    """A title for a conversation that has none, from its first message."""
    words = " ".join(text_of(content).split())
    if len(words) <= TITLE_FROM_MESSAGE_CHARS:
        return words
    return words[: TITLE_FROM_MESSAGE_CHARS - 1].rstrip() + "…"
