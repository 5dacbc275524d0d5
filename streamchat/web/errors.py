"""The error map and the error handlers: every refusal leaves as the JSON shape
(docs/architecture.md, "The error map"), never a traceback or an HTML page.

Domain layers raise a Refusal that says what happened; ``api_error_for`` is the one
place that gives each its status, type, code and words for the user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..budgets import BudgetExhausted, BudgetUnavailable, ConversationOverBudget
from ..conversations import (
    BadCursor,
    ConversationNotFound,
    ConversationsUnavailable,
    TooManyConversations,
)
from ..errors import ApiError, Refusal, bad_request
from ..identity.oidc import OidcRefused
from ..identity.session import Unauthenticated
from ..identity.throttle import SignInThrottled, SignInUnavailable
from ..runs import (
    BadResumePoint,
    RunNotFound,
    ServerBusy,
    ServerDraining,
    TooManyReaders,
)
from ..runtime import current_runtime
from ..upstream.refusals import UpstreamRefused
from ..worker.body_bytes import BodiesBusy

# UpstreamRefused by kind: (status, type, code, words).
_UPSTREAM = {
    "timeout": (504, "upstream_timeout", "The model provider did not answer in time. Try again."),
    "unreachable": (
        502,
        "upstream_unreachable",
        "The model provider could not be reached. Try again shortly.",
    ),
    "auth": (502, "upstream_auth", "The server's API key was not accepted by the model provider."),
    "model_not_found": (
        502,
        "model_not_found",
        "The model provider does not offer the model {model!r}.",
    ),
    "rate_limited": (
        429,
        "upstream_rate_limited",
        "The model provider is busy or over its rate limit. Try again in a moment.",
    ),
    "rejected": (
        502,
        "upstream_rejected",
        "The model provider refused this request (it may be too long).",
    ),
    "unavailable": (
        502,
        "upstream_unavailable",
        "The model provider had a problem answering. Try again.",
    ),
    "bad_response": (
        502,
        "upstream_bad_response",
        "The model provider sent something that is not a streamed reply.",
    ),
}


_OIDC_WORDS = {
    "failed": "Signing in with your identity provider failed. Try again.",
    "no_verified_email": "Your account has no verified email address.",
    "not_allowed": "This account may not use this app.",
}


def _upstream(refusal: UpstreamRefused) -> ApiError:
    if refusal.kind == "images_refused":
        # The request's fault for this model, not the provider's: a 400 the user can act on.
        return bad_request(
            f"The model {refusal.model!r} does not take images. Send the message without "
            "them, or choose a model that can see images.",
            "images_not_supported",
        )
    status, code, words = _UPSTREAM[refusal.kind]
    kind = "rate_limit_error" if status == 429 else "upstream_error"
    return ApiError(status, words.format(model=refusal.model), kind, code, refusal.retry_after)


def _budget_exhausted(refusal: BudgetExhausted) -> ApiError:
    if refusal.scope == "global":
        message, code = "This service has used its token budget for now.", "global_budget_exhausted"
    else:
        message, code = "You have used your token budget for now.", "budget_exhausted"
    words = f"{message} It renews in {refusal.retry_after} seconds."
    return ApiError(429, words, "rate_limit_error", code, refusal.retry_after)


def _over_budget(refusal: ConversationOverBudget) -> ApiError:
    scope = "the service's" if refusal.scope == "global" else "your"
    return bad_request(
        f"This conversation is too long for {scope} token budget "
        f"({refusal.budget_text}). Start a new one, or shorten it.",
        "conversation_over_budget",
    )


def _server_error(message: str, code: str) -> Callable[[Refusal], ApiError]:
    return lambda refusal: ApiError(503, message, "server_error", code, refusal.retry_after)


_MAP: dict[type[Refusal], Callable] = {
    UpstreamRefused: _upstream,
    BudgetExhausted: _budget_exhausted,
    ConversationOverBudget: _over_budget,
    BudgetUnavailable: _server_error(
        "Token budgets cannot be checked right now. Try again in a few seconds.",
        "budget_unavailable",
    ),
    ServerBusy: _server_error(
        "The server is busy with other replies. Try again in a few seconds.", "server_busy"
    ),
    BodiesBusy: _server_error(
        "The server is busy receiving other messages. Try again in a few seconds.",
        "server_busy",
    ),
    ServerDraining: _server_error(
        "The server is restarting. Try again in a moment.", "server_shutting_down"
    ),
    RunNotFound: lambda refusal: ApiError(
        404,
        "There is no such reply: it ended a while ago, or it was never yours.",
        "invalid_request_error",
        "run_not_found",
    ),
    BadResumePoint: lambda refusal: bad_request(
        "The resume point must be a count of lines the reply has already sent.",
        "bad_resume_point",
    ),
    TooManyReaders: lambda refusal: ApiError(
        429,
        "This reply is open in too many places. Close one and try again.",
        "rate_limit_error",
        "too_many_readers",
        refusal.retry_after,
    ),
    ConversationNotFound: lambda refusal: ApiError(
        404,
        "There is no such conversation: it was deleted, or it was never yours.",
        "invalid_request_error",
        "conversation_not_found",
    ),
    TooManyConversations: lambda refusal: ApiError(
        409,
        f"You keep {refusal.limit:,} conversations, the most this server keeps for one "
        "person. Delete some to start new ones.",
        "invalid_request_error",
        "too_many_conversations",
    ),
    BadCursor: lambda refusal: bad_request(
        "'before' must be the 'next' cursor of an earlier page.", "invalid_cursor"
    ),
    ConversationsUnavailable: _server_error(
        "Conversations cannot be reached right now. Try again in a few seconds.",
        "database_unavailable",
    ),
    SignInThrottled: lambda refusal: ApiError(
        429,
        f"Too many failed sign-ins. Try again in {refusal.retry_after} seconds.",
        "rate_limit_error",
        "sign_in_throttled",
        refusal.retry_after,
    ),
    SignInUnavailable: _server_error(
        "Sign-in is unavailable for a moment. Try again in a few seconds.",
        "sign_in_unavailable",
    ),
    Unauthenticated: lambda refusal: ApiError(
        401,
        "Sign in first, or send an API token as Authorization: Bearer <token>.",
        "authentication_error",
        "unauthenticated",
        headers={"WWW-Authenticate": "Bearer"},
    ),
    OidcRefused: lambda refusal: ApiError(
        403, _OIDC_WORDS[refusal.reason], "authentication_error", f"oidc_{refusal.reason}"
    ),
}


def api_error_for(refusal: Refusal) -> ApiError:
    """The status, code and words for ``refusal`` (the nearest mapped class wins)."""
    for kind in type(refusal).__mro__:
        build = _MAP.get(kind)
        if build is not None:
            return build(refusal)
    raise LookupError(f"no answer mapped for {type(refusal).__name__}")


def json_error(error: ApiError):
    """The response for ``error``: JSON body, status, Retry-After; noted in the request log."""
    record = g.get("request_record")
    if record is not None:
        record.error_code = error.code
    metrics = current_runtime().metrics
    if metrics is not None and request.path.startswith("/api/"):
        metrics.request_rejected(error.code)
    response = jsonify(error.body())
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    response.headers.update(error.headers or {})
    return response


def install_error_handlers(app: Flask) -> None:
    """Answer refusals, ApiError, HTTP errors (404, 405, 413, ...) and crashes with JSON."""

    @app.errorhandler(Refusal)
    def handle_refusal(refusal: Refusal):
        return json_error(api_error_for(refusal))

    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        return json_error(error)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        if error.response is not None:
            return error.response  # built already, e.g. the rate limiter's 429
        code = (error.name or "error").lower().replace(" ", "_")
        message = {
            413: "The request body is too large.",
            404: "There is nothing at this address.",
            405: "This address does not accept that method.",
        }.get(error.code, error.description or error.name)
        response = json_error(ApiError(error.code or 500, message, "invalid_request_error", code))
        if error.code == 405:
            response.headers["Allow"] = ", ".join(error.valid_methods or [])
        return response

    @app.errorhandler(Exception)
    def handle_crash(error: Exception):
        logging.getLogger("streamchat.errors").exception("unhandled error")
        return json_error(
            ApiError(500, "Something went wrong on the server.", "server_error", "internal_error")
        )
