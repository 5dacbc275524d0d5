"""Answers for the user when the upstream refuses a request before its stream starts.

Upstream error text is never passed on: OpenAI's 401 message quotes part of the key.
"""

from __future__ import annotations

import openai

from ..errors import ApiError


def _retry_after_seconds(headers) -> int | None:
    raw = headers.get("retry-after") if headers is not None else None
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None  # HTTP-date form: not worth parsing; the client backs off anyway.
    return max(1, min(int(seconds + 0.999), 3600))


def from_upstream_exception(exc: Exception, model: str) -> ApiError:
    """Map an exception raised while opening the upstream stream to an ApiError."""
    if isinstance(exc, openai.APITimeoutError):
        return ApiError(
            504,
            "The model provider did not answer in time. Try again.",
            "upstream_error",
            "upstream_timeout",
        )
    if isinstance(exc, openai.APIConnectionError):
        return ApiError(
            502,
            "The model provider could not be reached. Try again shortly.",
            "upstream_error",
            "upstream_unreachable",
        )
    if isinstance(exc, openai.APIStatusError):
        return _from_status(exc.status_code, exc.response.headers, model)
    raise exc


def _from_status(status: int, headers, model: str) -> ApiError:
    if status in (401, 403):
        return ApiError(
            502,
            "The server's API key was not accepted by the model provider.",
            "upstream_error",
            "upstream_auth",
        )
    if status == 404:
        return ApiError(
            502,
            f"The model provider does not offer the model {model!r}.",
            "upstream_error",
            "model_not_found",
        )
    if status == 429:
        return ApiError(
            429,
            "The model provider is busy or over its rate limit. Try again in a moment.",
            "rate_limit_error",
            "upstream_rate_limited",
            retry_after=_retry_after_seconds(headers) or 5,
        )
    if status in (400, 413, 422):
        return ApiError(
            502,
            "The model provider refused this request (it may be too long).",
            "upstream_error",
            "upstream_rejected",
        )
    return ApiError(
        502,
        "The model provider had a problem answering. Try again.",
        "upstream_error",
        "upstream_unavailable",
    )


def bad_upstream_reply() -> ApiError:
    """The upstream answered 2xx but not with an event stream (a proxy page, say)."""
    return ApiError(
        502,
        "The model provider sent something that is not a streamed reply.",
        "upstream_error",
        "upstream_bad_response",
    )
