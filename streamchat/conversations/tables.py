"""The conversations' two tables: a conversation (its owner, title, model, times and the
run streaming into it now) and its messages, in order."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import ID_LENGTH, Base

TITLE_CHARS = 200
OWNER_CHARS = 200


class Conversation(Base):
    """One conversation of one owner (a user's or an API token's identity id)."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    owner: Mapped[str] = mapped_column(String(OWNER_CHARS))
    title: Mapped[str] = mapped_column(String(TITLE_CHARS), default="")
    model: Mapped[str | None] = mapped_column(String(200))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    # The run streaming a reply into it now (streamchat.runs), or None.
    run_id: Mapped[str | None] = mapped_column(String(100))
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation",
        order_by="Message.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    # The sidebar's query: one owner's, most recently updated first, paged by
    # (updated_ms, id).
    __table_args__ = (Index("ix_conversations_owner_updated", "owner", "updated_ms", "id"),)


class Message(Base):
    """One turn of a conversation: the user's, or a reply with how it ended."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))
    # Text, or a list of content parts (text and images) as the API takes them.
    content: Mapped[str | list] = mapped_column(JSON)
    # Of role and content (streamchat.conversations.turns): a turn compares what was sent
    # with what is stored without reading the contents back.
    digest: Mapped[str] = mapped_column(String(32))
    # The bytes of the images it keeps (streamchat.conversations.images), summed per
    # owner against MAX_STORED_IMAGE_BYTES_PER_USER.
    image_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning: Mapped[str | None] = mapped_column(Text)
    # done, incomplete, stopped, error or cut off (the page's words); None for the user's.
    state: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    usage: Mapped[dict | None] = mapped_column(JSON)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    __table_args__ = (
        Index("ix_messages_conversation_position", "conversation_id", "position", unique=True),
    )
