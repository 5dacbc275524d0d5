"""A chat turn's two writes, on SQLAlchemy Core rather than the ORM: they run on every
streamed reply in a conversation, so each is a few compiled statements in one
transaction (the ORM's unit of work cost several times as much, measured in
bench/README.md, "Conversations").

``begin_turn`` compares what was sent with what is stored by digest, never by reading
the stored contents back: only the tail that changed is rewritten.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from ..database import new_id, now_ms
from .errors import ConversationNotFound
from .images import image_bytes, without_images
from .replies import Reply
from .shapes import title_from
from .tables import Conversation, Message

_CONVERSATIONS = Conversation.__table__
_MESSAGES = Message.__table__
_STORED = (
    select(_CONVERSATIONS.c.title, _MESSAGES.c.position, _MESSAGES.c.digest)
    .select_from(
        _CONVERSATIONS.outerjoin(_MESSAGES, _MESSAGES.c.conversation_id == _CONVERSATIONS.c.id)
    )
    .where(
        _CONVERSATIONS.c.id == bindparam("conversation_id"),
        _CONVERSATIONS.c.owner == bindparam("owner"),
    )
    .order_by(_MESSAGES.c.position)
)
# Built once, filled with parameters on each call: no statement is built per turn.
_INSERT_MESSAGES = insert(_MESSAGES)
_DELETE_FROM = delete(_MESSAGES).where(
    _MESSAGES.c.conversation_id == bindparam("conversation_id"),
    _MESSAGES.c.position >= bindparam("from_position"),
)
_IMAGE_BYTES_OF_OWNER = (
    select(func.sum(_MESSAGES.c.image_bytes))
    .select_from(_MESSAGES.join(_CONVERSATIONS, _MESSAGES.c.conversation_id == _CONVERSATIONS.c.id))
    .where(_CONVERSATIONS.c.owner == bindparam("owner"), _MESSAGES.c.image_bytes > 0)
)
_START = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("conversation_id"))
    .values(model=bindparam("model"), run_id=bindparam("run_id"), updated_ms=bindparam("stamp"))
)
_START_TITLED = _START.values(title=bindparam("title"))
_CLAIM = (
    update(_CONVERSATIONS)
    .where(
        _CONVERSATIONS.c.id == bindparam("conversation_id"),
        _CONVERSATIONS.c.run_id == bindparam("ended_run"),
    )
    .values(run_id=None, updated_ms=bindparam("stamp"))
)


def message_digest(role: str, content: str | list) -> str:
    """What identifies a message's role and content (equal messages, equal digests)."""
    if isinstance(content, str):
        data = content.encode("utf-8", "surrogatepass")
    else:
        data = json.dumps(content, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.blake2b(role.encode() + b"\0" + data, digest_size=16).hexdigest()


def _kept_contents(
    connection: Connection, owner: str, new: list[dict], image_limit: int
) -> list[tuple[object, int]]:
    """Each new message's content as it is kept, and its image bytes: past the owner's
    image limit, with a note in place of each image."""
    sizes = [image_bytes(m["content"]) for m in new]
    if not any(sizes):
        return [(m["content"], 0) for m in new]
    used = connection.execute(_IMAGE_BYTES_OF_OWNER, {"owner": owner}).scalar() or 0
    kept = []
    for message, size in zip(new, sizes, strict=True):
        if size and used + size > image_limit:
            kept.append((without_images(message["content"]), 0))
        else:
            used += size
            kept.append((message["content"], size))
    return kept


def begin_turn(
    connection: Connection,
    owner: str,
    conversation_id: str,
    sent: list[dict],
    model: str,
    run_id: str,
    image_limit: int,
) -> int:
    """Store ``sent`` as ``owner``'s conversation's messages and ``run_id`` as its run
    (ConversationNotFound when it is not theirs); the position its reply will take.
    Images count against ``image_limit`` bytes for the owner."""
    rows = connection.execute(_STORED, {"conversation_id": conversation_id, "owner": owner}).all()
    if not rows:
        raise ConversationNotFound()
    stored = [row.digest for row in rows if row.position is not None]
    digests = [message_digest(m["role"], m["content"]) for m in sent]
    kept = 0
    for old, new in zip(stored, digests, strict=False):
        if old != new:
            break
        kept += 1
    if kept < len(stored):
        connection.execute(
            _DELETE_FROM, {"conversation_id": conversation_id, "from_position": kept}
        )
    stamp = now_ms()
    if kept < len(sent):
        contents = _kept_contents(connection, owner, sent[kept:], image_limit)
        connection.execute(
            _INSERT_MESSAGES,
            [
                {
                    "id": new_id(),
                    "conversation_id": conversation_id,
                    "position": position,
                    "role": sent[position]["role"],
                    "content": content,
                    # Of what was sent, so the same message sent again is kept as it is.
                    "digest": digests[position],
                    "image_bytes": size,
                    "created_ms": stamp,
                }
                for position, (content, size) in enumerate(contents, start=kept)
            ],
        )
    values = {"conversation_id": conversation_id, "model": model, "run_id": run_id}
    if not rows[0].title and sent:
        values["title"] = title_from(sent[0]["content"])
        connection.execute(_START_TITLED, {**values, "stamp": stamp})
    else:
        connection.execute(_START, {**values, "stamp": stamp})
    return len(sent)


def replace_messages(
    connection: Connection, owner: str, conversation_id: str, messages: list[dict]
) -> None:
    """Store ``messages`` (role, text content, a reply's state) as ``owner``'s
    conversation's messages in place of any it had (ConversationNotFound when it is not
    theirs): an import of a conversation a browser kept. Its run, if any, is left alone."""
    rows = connection.execute(_STORED, {"conversation_id": conversation_id, "owner": owner}).all()
    if not rows:
        raise ConversationNotFound()
    connection.execute(_DELETE_FROM, {"conversation_id": conversation_id, "from_position": 0})
    stamp = now_ms()
    connection.execute(
        _INSERT_MESSAGES,
        [
            {
                "id": new_id(),
                "conversation_id": conversation_id,
                "position": position,
                "role": message["role"],
                "content": message["content"],
                "digest": message_digest(message["role"], message["content"]),
                "image_bytes": 0,  # text only
                "state": message["state"],
                "created_ms": stamp,
            }
            for position, message in enumerate(messages)
        ],
    )
    values = {"conversation_id": conversation_id, "stamp": stamp}
    update_row = update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("conversation_id"))
    if not rows[0].title and messages:
        update_row = update_row.values(title=title_from(messages[0]["content"]))
    connection.execute(update_row.values(updated_ms=bindparam("stamp")), values)


def end_turn(
    connection: Connection, conversation_id: str, run_id: str, position: int, reply: Reply
) -> bool:
    """Store ``reply`` at ``position`` if run ``run_id`` is still the conversation's turn
    (a newer turn, or a deletion, replaced it otherwise); whether it was stored. The
    claim clears the run, so the tail past ``position`` is this turn's to write."""
    stamp = now_ms()
    claimed = connection.execute(
        _CLAIM, {"conversation_id": conversation_id, "ended_run": run_id, "stamp": stamp}
    )
    if claimed.rowcount != 1:
        return False
    connection.execute(
        _INSERT_MESSAGES,
        {
            "id": new_id(),
            "conversation_id": conversation_id,
            "position": position,
            "role": "assistant",
            "content": reply.content,
            "digest": message_digest("assistant", reply.content),
            "image_bytes": 0,
            "reasoning": reply.reasoning,
            "state": reply.state,
            "error": reply.error,
            "usage": reply.usage,
            "created_ms": stamp,
        },
    )
    return True
