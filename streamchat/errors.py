"""How a request is refused before its stream starts, at two levels.

``Refusal`` is what a domain layer raises: a typed exception that says what happened
(``BudgetExhausted``, ``ServerBusy``, ``UpstreamRefused``...), defined beside the code
that raises it, carrying facts (a retry delay, a scope), never HTTP. One module,
streamchat.web.errors, maps each to its status, code and words for the user
(docs/architecture.md, "The error map").

``ApiError`` is the wire shape itself (status + JSON body), built only in streamchat.web
and here. Anyone may import this module.
"""

from __future__ import annotations

from dataclasses import dataclass


class Refusal(Exception):
    """A request refused by a domain layer; ``retry_after`` (seconds) when trying again
    later can help."""

    retry_after: int | None = None


@dataclass
class ApiError(Exception):
    """An error answered before streaming starts, as HTTP status + JSON body."""

    status: int
    message: str
    type: str
    code: str
    retry_after: int | None = None
    headers: dict[str, str] | None = None  # e.g. WWW-Authenticate on a 401

    def body(self) -> dict:
        """The JSON body: ``{"error": {"message", "type", "code"}}``."""
        return {"error": {"message": self.message, "type": self.type, "code": self.code}}


def bad_request(message: str, code: str) -> ApiError:
    """A 400 for a request the user (or their client) got wrong."""
    return ApiError(400, message, "invalid_request_error", code)
