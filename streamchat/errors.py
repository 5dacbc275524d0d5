"""The error answered before a stream starts: an HTTP status with a JSON body.

Shared by every layer that can refuse a request (web, upstream, and later identity and
budgets); anyone may import it. The wire shape is in docs/architecture.md ("Wire
protocol").
"""

from __future__ import annotations

from dataclasses import dataclass


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
