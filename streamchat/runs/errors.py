"""What a request about a run can be refused for (streamchat.web.errors words them)."""

from __future__ import annotations

from ..errors import Refusal

# A busy run's readers come and go: a few seconds is enough for one to leave.
TOO_MANY_READERS_RETRY_AFTER = 5


class RunNotFound(Refusal):
    """No such run: never made, ended longer than RUN_KEEP_SECONDS ago, its owner gone,
    or someone else's (the same answer, so an id cannot be probed)."""


class BadResumePoint(Refusal):
    """A resume point that is not a count of lines, or more lines than the run has."""


class TooManyReaders(Refusal):
    """MAX_READERS_PER_RUN readers are reading this run already."""

    retry_after = TOO_MANY_READERS_RETRY_AFTER
