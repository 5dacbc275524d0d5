"""The refusals of the conversations layer (streamchat.web.errors gives their answers)."""

from __future__ import annotations

from ..errors import Refusal


class ConversationNotFound(Refusal):
    """No conversation of this owner has that id: never theirs, deleted, or made up."""


class TooManyConversations(Refusal):
    """The owner keeps MAX_CONVERSATIONS_PER_USER conversations already."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class BadCursor(Refusal):
    """A paging cursor this server did not give."""


class ConversationsUnavailable(Refusal):
    """The database cannot be reached or answered with an error."""

    retry_after = 5
