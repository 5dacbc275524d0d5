"""The conversations of every owner, in the database: every query is scoped to its
owner, so another person's id is simply not found.

A chat turn costs two writes, never one per chunk: ``begin_turn`` stores the messages
sent (the conversation's new truth) and the run streaming into it before the upstream
call, and ``end_turn`` stores the reply once when its run ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ..database import new_id, now_ms
from . import turns
from .errors import ConversationNotFound, ConversationsUnavailable, TooManyConversations
from .replies import Reply
from .shapes import (
    conversation_summary,
    cursor_after,
    message_shape,
    read_cursor,
)
from .tables import TITLE_CHARS, Conversation

LOG = logging.getLogger("streamchat.conversations")


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database error as ConversationsUnavailable (logged with its class alone: its
    text can carry the URL's host and user)."""
    try:
        yield
    except SQLAlchemyError as error:
        LOG.warning("database_unavailable", extra={"error": type(error).__name__})
        raise ConversationsUnavailable() from None


class ConversationStore:
    """Conversations and their messages on ``engine``; built once per app."""

    def __init__(self, engine: Engine, max_per_owner: int, image_bytes_per_owner: int) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._max_per_owner = max_per_owner
        self._image_bytes_per_owner = image_bytes_per_owner

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with _database_errors(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        with _database_errors(), self.engine.begin() as connection:
            yield connection

    def _owned(self, session: Session, owner: str, conversation_id: str) -> Conversation:
        row = session.scalar(
            select(Conversation).where(
                Conversation.id == conversation_id, Conversation.owner == owner
            )
        )
        if row is None:
            raise ConversationNotFound()
        return row

    def page(self, owner: str, limit: int, before: str | None) -> tuple[list[dict], str | None]:
        """Up to ``limit`` of ``owner``'s conversations, most recently updated first,
        after the cursor ``before``; and the cursor of the next page (None: no more)."""
        query = select(Conversation).where(Conversation.owner == owner)
        if before:
            updated, last_id = read_cursor(before)
            query = query.where(
                or_(
                    Conversation.updated_ms < updated,
                    and_(Conversation.updated_ms == updated, Conversation.id < last_id),
                )
            )
        query = query.order_by(Conversation.updated_ms.desc(), Conversation.id.desc())
        with self._session() as session:
            rows = list(session.scalars(query.limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return [conversation_summary(r) for r in rows], cursor_after(rows[-1]) if more else None

    def create(self, owner: str, title: str, model: str | None) -> dict:
        """A new conversation of ``owner``'s (TooManyConversations past the limit)."""
        stamp = now_ms()
        row = Conversation(
            id=new_id(),
            owner=owner,
            title=title[:TITLE_CHARS],
            model=model,
            created_ms=stamp,
            updated_ms=stamp,
        )
        with self._session() as session:
            count = session.scalar(
                select(func.count()).select_from(Conversation).where(Conversation.owner == owner)
            )
            if count >= self._max_per_owner:
                raise TooManyConversations(self._max_per_owner)
            session.add(row)
        return conversation_summary(row)

    def get(self, owner: str, conversation_id: str) -> dict:
        """``owner``'s conversation with its messages and the run streaming into it."""
        with self._session() as session:
            row = session.scalar(
                select(Conversation)
                .where(Conversation.id == conversation_id, Conversation.owner == owner)
                .options(selectinload(Conversation.messages))
            )
            if row is None:
                raise ConversationNotFound()
            shape = conversation_summary(row)
            shape["run_id"] = row.run_id
            shape["messages"] = [message_shape(m) for m in row.messages]
        return shape

    def rename(self, owner: str, conversation_id: str, title: str) -> dict:
        """Give ``owner``'s conversation a new title."""
        with self._session() as session:
            row = self._owned(session, owner, conversation_id)
            row.title = title[:TITLE_CHARS]
            row.updated_ms = now_ms()
        return conversation_summary(row)

    def delete(self, owner: str, conversation_id: str) -> None:
        """Delete ``owner``'s conversation and its messages."""
        with self._session() as session:
            # Its messages go with it by the foreign key's ON DELETE CASCADE (SQLite's
            # foreign keys are on for every connection: streamchat.database).
            session.delete(self._owned(session, owner, conversation_id))

    def replace_messages(self, owner: str, conversation_id: str, messages: list[dict]) -> dict:
        """Store ``messages`` (role, text content, a reply's state) as ``owner``'s
        conversation's messages, in place of any it had: a conversation kept in a browser,
        imported. Sent again, it stores the same: an import tried twice keeps one copy."""
        with self._connection() as connection:
            turns.replace_messages(connection, owner, conversation_id, messages)
        return self.get(owner, conversation_id)

    def begin_turn(
        self, owner: str, conversation_id: str, sent: list[dict], model: str, run_id: str
    ) -> int:
        """Store ``sent`` (role and content of each message the client sent) as the
        conversation's messages and ``run_id`` as the run streaming into it; return the
        position its reply will take. Messages kept from before (same role and content
        at the same place) keep their id, reasoning and usage: only what changed is
        written, so an edit or a regenerate rewrites the tail."""
        with self._connection() as connection:
            return turns.begin_turn(
                connection,
                owner,
                conversation_id,
                sent,
                model,
                run_id,
                self._image_bytes_per_owner,
            )

    def end_turn(self, conversation_id: str, run_id: str, position: int, reply: Reply) -> bool:
        """Store ``reply`` at ``position`` if run ``run_id`` is still the conversation's
        turn (a newer turn, or a deletion, replaced it otherwise); clear the run either
        way. Whether it was stored."""
        with self._connection() as connection:
            return turns.end_turn(connection, conversation_id, run_id, position, reply)

    def release_run(self, conversation_id: str, run_id: str) -> None:
        """The run never started (refused): the conversation has no run streaming."""
        with self._session() as session:
            session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.run_id == run_id)
                .values(run_id=None)
            )

    def reachable(self) -> bool:
        """Whether the database answers a trivial query now (for /readyz)."""
        try:
            with self._session() as session:
                session.execute(select(1))
        except ConversationsUnavailable:
            return False
        return True
