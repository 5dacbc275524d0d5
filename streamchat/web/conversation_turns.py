"""A chat request with a ``conversation_id``: the turn is stored before the upstream
call and its reply when the run ends, with or without a reader by then
(docs/architecture.md, "Conversations").

When the database cannot be reached the reply still streams: the response says
``X-Conversation-Saved: false`` and the page keeps the conversation itself meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from ..conversations import ConversationStore, ConversationsUnavailable, read_reply
from ..errors import bad_request
from ..runs import Run, RunResult
from ..upstream.request import ChatRequest

LOG = logging.getLogger("streamchat.conversations")
SAVED_HEADER = "X-Conversation-Saved"
_MAX_ID_CHARS = 64


def conversation_id_of(body: dict, owner: str | None) -> str | None:
    """The request's ``conversation_id`` (None: a stateless request), checked."""
    value = body.get("conversation_id")
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > _MAX_ID_CHARS:
        raise bad_request("'conversation_id' must be a conversation's id.", "invalid_conversation")
    if owner is None:
        raise bad_request(
            "Conversations are kept on the server only when sign-in is on (AUTH); "
            "send the request without 'conversation_id'.",
            "conversations_off",
        )
    return value


@dataclass(frozen=True)
class Turn:
    """A stored turn: where its reply goes, or ``saved`` False when it could not be."""

    store: ConversationStore
    conversation_id: str
    run_id: str
    position: int = 0
    saved: bool = True

    def keep_reply(self, run: Run) -> None:
        """Store the run's reply when it ends (from its lines, however it ended)."""
        if self.saved:
            run.when_ended(lambda result: self._store_reply(run, result))

    def give_up(self) -> None:
        """The run was refused before it started: no run streams into it."""
        if self.saved:
            # Logged by the store when it fails; the run id then stays until the next turn
            # (a resume of it answers run_not_found, and the page shows the turn unanswered).
            with contextlib.suppress(ConversationsUnavailable):
                self.store.release_run(self.conversation_id, self.run_id)

    def _store_reply(self, run: Run, result: RunResult) -> None:
        # Called as the run ends, before its readers see the end: it must never raise.
        try:
            reply = read_reply(run.api_name, run.lines.lines, result.outcome, result.error_code)
            self.store.end_turn(self.conversation_id, self.run_id, self.position, reply)
        except ConversationsUnavailable:
            LOG.error("reply_not_saved", extra={"run_id": self.run_id})
        except Exception:
            LOG.exception("reply_not_saved", extra={"run_id": self.run_id})


def begin_turn(
    store: ConversationStore, owner: str, conversation_id: str, chat: ChatRequest, run_id: str
) -> Turn:
    """Store the messages sent as the conversation's truth and ``run_id`` as its run.
    Raises ConversationNotFound for an id that is not ``owner``'s (before any upstream
    call); an unreachable database gives a turn that is not saved."""
    sent = chat.messages[1:]  # the system prompt is the server's, not the conversation's
    try:
        position = store.begin_turn(owner, conversation_id, sent, chat.model, run_id)
    except ConversationsUnavailable:
        return Turn(store, conversation_id, run_id, saved=False)
    return Turn(store, conversation_id, run_id, position)
