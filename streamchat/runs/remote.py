"""Reading and stopping a run that a worker of another instance owns, through Redis
(REDIS_URL; docs/architecture.md, "Runs across workers and instances").

The asking worker publishes a request on the owner's channel (``streamchat:runs:<owner>``;
nobody listening means the owner is gone: RunNotFound at once) naming an answer stream
of its own. The owner answers there: a status entry, then ``L`` + each run line, ``#``
for a heartbeat, ``E`` + JSON at the end, the same messages as between the workers of a
machine (streamchat.runs.peers). The reader reads the stream from the last id it saw, so
nothing is lost between reads, and keeps a "still reading" key alive that the owner
checks at each heartbeat, so a reader that left does not hold the owner's reader place.
An owner that falls silent for a heartbeat and a grace period is gone: ``run_lost``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import Iterator

from ..state import StateUnavailable
from ..state.redis_messages import RedisMessages
from .answering import HEARTBEAT, answers, read_status
from .errors import BadResumePoint, RunNotFound, TooManyReaders
from .lines import Delivery
from .peers import SILENCE_GRACE_SECONDS, lost_line
from .registry import RunRegistry

# How long the asker waits for the owner's status entry.
STATUS_WAIT_SECONDS = 5.0


def channel_of(owner: str) -> str:
    """The channel on which ``owner``'s worker takes requests."""
    return f"streamchat:runs:{owner}"


class RemoteServer:
    """Answers requests from other instances about this worker's runs."""

    def __init__(self, registry: RunRegistry, messages: RedisMessages, heartbeat: float) -> None:
        self._registry = registry
        self._messages = messages
        self._heartbeat = heartbeat
        self._listening_as = ""

    def ensure_listening(self) -> None:
        """Subscribe once per worker process (after the fork), before its first run."""
        owner = self._registry.owner
        if self._listening_as != owner:
            self._listening_as = owner
            self._messages.listen(channel_of(owner), self._handle)

    def _handle(self, request: dict) -> None:
        key = request.get("reply")
        if not isinstance(key, str) or not key.startswith("streamchat:runs:answer:"):
            return
        with contextlib.suppress(StateUnavailable):
            self._answer(key, request)

    def _answer(self, key: str, request: dict) -> None:
        messages = answers(self._registry, request, self._heartbeat)
        try:
            for batch in messages:
                if batch == [HEARTBEAT] and not self._messages.marked(key + ":reading"):
                    return  # the reader has gone
                self._messages.answer(key, batch)
        finally:
            messages.close()


class RemoteReader:
    """A reader of a run another instance owns."""

    def __init__(
        self, messages: RedisMessages, owner: str, request: dict, heartbeat_seconds: float
    ) -> None:
        self._messages = messages
        self._key = f"streamchat:runs:answer:{secrets.token_hex(16)}"
        self._last = b"0"
        self._heartbeat = heartbeat_seconds
        self._finished = False
        self._mark()
        if messages.ask(channel_of(owner), {**request, "reply": self._key}) == 0:
            raise RunNotFound()  # nobody listens for that owner: it is gone
        status = self._status()
        if status.get("status") not in (200, 202):
            self.close()
            raise {400: BadResumePoint, 429: TooManyReaders}.get(
                status.get("status"), RunNotFound
            )()
        self.code = status["status"]
        self.api_name = status.get("api", "chat")

    def _mark(self) -> None:
        self._messages.mark(self._key + ":reading", self._heartbeat * 2 + SILENCE_GRACE_SECONDS)

    def _status(self) -> dict:
        deadline = time.monotonic() + STATUS_WAIT_SECONDS
        while time.monotonic() < deadline:
            for entry_id, entry in self._messages.read_answer(self._key, self._last, 1.0):
                self._last = entry_id
                if entry.startswith(b"S"):
                    return read_status(entry)
        return {"status": 404}  # the owner took the request but never answered: gone

    def follow(self, after: int, heartbeat_seconds: float) -> Iterator[Delivery | None]:
        """As LocalReader.follow, through the answer stream."""
        heard = time.monotonic()
        while True:
            try:
                entries = self._messages.read_answer(self._key, self._last, heartbeat_seconds)
                self._mark()
            except StateUnavailable:
                entries = []  # Redis away: as good as silence from the owner
            if not entries:
                if time.monotonic() - heard > heartbeat_seconds + SILENCE_GRACE_SECONDS:
                    yield lost_line(self.api_name)
                    return
                continue
            heard = time.monotonic()
            lines = []
            for entry_id, entry in entries:
                self._last = entry_id
                tag, rest = entry[:1], entry[1:]
                if tag == b"L":
                    lines.append(rest)
                elif tag == b"E":
                    self._finished = bool(json.loads(rest).get("finished"))
            if lines:
                yield b"".join(lines)
            if self._finished or any(entry[:1] == b"E" for _, entry in entries):
                return
            if not lines:
                yield None  # the owner's heartbeat

    def slow(self) -> None:
        """Its client is slow: nothing to hand over (the owner's reader reads on)."""

    def ends_with_done(self) -> bool:
        """Whether the owner said the run finished the reply."""
        return self._finished

    def close(self) -> None:
        """Let the owner's reader go (it notices at its next heartbeat)."""
        with contextlib.suppress(StateUnavailable):
            self._messages.forget(self._key)
