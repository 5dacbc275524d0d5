"""Conversations kept on the server for signed-in people (docs/architecture.md,
"Conversations").

``tables`` maps the two tables, ``store`` is every query (each scoped to its owner),
``replies`` reads a finished run's lines as the reply to keep, ``shapes`` turns rows
into the API's JSON, ``export`` makes the downloads, ``errors`` holds the refusals.

It may import database, settings and errors; streamchat.runtime, web and app.py import
it. It knows no Flask: the web layer hands it an owner and plain data.
"""

from .errors import BadCursor, ConversationNotFound, ConversationsUnavailable, TooManyConversations
from .export import as_json, as_markdown, file_name
from .replies import Reply, read_reply
from .store import ConversationStore

__all__ = [
    "BadCursor",
    "ConversationNotFound",
    "ConversationStore",
    "ConversationsUnavailable",
    "Reply",
    "TooManyConversations",
    "as_json",
    "as_markdown",
    "file_name",
    "read_reply",
]
