"""What the upstream's refusal before a stream starts means, as an UpstreamRefused of one
kind (streamchat.web.errors words it for the user).

Upstream error text is never passed on: OpenAI's 401 message quotes part of the key.
"""

from __future__ import annotations

import openai

from ..errors import Refusal

# The upstream's own words for what it would not do, by status; anything else is
# "unavailable".
_KIND_BY_STATUS = {
    401: "auth",
    403: "auth",
    404: "model_not_found",
    429: "rate_limited",
    400: "rejected",
    413: "rejected",
    422: "rejected",
}
# An upstream whose model takes no images refuses them with one of these statuses and
# words that name the cause (OpenAI: 400 "image_url is only supported by certain models";
# Ollama: 400 "this model does not support image input"; llama.cpp: 500 "Unsupported
# content part type: image_url"; vLLM: 400 "... is not a multimodal model").
_IMAGE_REFUSAL_STATUSES = frozenset([400, 415, 422, 500])
_IMAGE_REFUSAL_WORDS = ("image", "multimodal", "vision")
# When an upstream that is over its rate limit names no delay.
DEFAULT_RATE_LIMIT_RETRY_AFTER = 5


class UpstreamRefused(Refusal):
    """The upstream did not start a stream. ``kind``: ``timeout``, ``unreachable``,
    ``auth``, ``model_not_found``, ``rate_limited``, ``rejected``, ``unavailable``,
    ``bad_response`` (a 2xx that is not an event stream) or ``images_refused`` (the
    request carried images and the model takes none)."""

    def __init__(self, kind: str, model: str = "", retry_after: int | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.model = model
        self.retry_after = retry_after


def _retry_after_seconds(headers) -> int | None:
    raw = headers.get("retry-after") if headers is not None else None
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None  # HTTP-date form: not worth parsing; the client backs off anyway.
    return max(1, min(int(seconds + 0.999), 3600))


def _refuses_images(exc: openai.APIStatusError) -> bool:
    if exc.status_code not in _IMAGE_REFUSAL_STATUSES:
        return False
    words = str(exc.message).lower()
    return any(word in words for word in _IMAGE_REFUSAL_WORDS)


def from_upstream_exception(exc: Exception, model: str, images: int = 0) -> UpstreamRefused:
    """The UpstreamRefused for an SDK exception raised while opening the stream of a
    request that carried ``images`` images."""
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamRefused("timeout", model)
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamRefused("unreachable", model)
    if isinstance(exc, openai.APIStatusError):
        if images and _refuses_images(exc):
            return UpstreamRefused("images_refused", model)
        kind = _KIND_BY_STATUS.get(exc.status_code, "unavailable")
        retry_after = None
        if kind == "rate_limited":
            retry_after = (
                _retry_after_seconds(exc.response.headers) or DEFAULT_RATE_LIMIT_RETRY_AFTER
            )
        return UpstreamRefused(kind, model, retry_after)
    raise exc
