"""What differs between Chat Completions and the Responses API on the relay's path.

Each protocol object looks at one SSE ``data:`` payload at a time (bytes, as it came):
it says what line to send, notices the stream's end and its usage, and turns an
upstream error into our own error line. Ordinary chunks are checked without a JSON
parse; see docs/architecture.md ("The per-chunk path").
"""

from __future__ import annotations

import json
import re
import uuid

_MALFORMED = ("upstream_malformed", "The model provider sent a malformed reply.")
_REPORTED = ("upstream_error", "The model provider reported an error.")


class UpstreamEventError(Exception):
    """The upstream sent an in-band error event or a line that is not a JSON object."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _compact(payload: bytes) -> tuple[bytes, dict]:
    """Parse ``payload``; return it on one line and the parsed object. Malformed raises."""
    try:
        parsed = json.loads(payload)
    except ValueError:
        raise UpstreamEventError(*_MALFORMED) from None
    if not isinstance(parsed, dict):
        raise UpstreamEventError(*_MALFORMED)
    if b"\n" in payload:
        payload = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()
    return payload, parsed


_USAGE_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "total_tokens",
)


def _usage_of(usage: object) -> dict | None:
    """The token counts of an upstream usage object, for the log (numbers only)."""
    if not isinstance(usage, dict):
        return None
    counts = {k: usage[k] for k in _USAGE_FIELDS if isinstance(usage.get(k), int)}
    return counts or None


# What only a real parse can rule out: the key "error" written with \u escapes, or an
# error's "type" somewhere other than where upstreams put it.
_ESCAPE = b"\\u"
_BACKSLASH = b"\\"  # a one-byte search (memchr) first: most chunks have no escape at all
_ERROR = b'"error"'
_FAILED_EVENTS = (b"error", b"response.failed")


def _check_shape(payload: bytes, event_name: bytes | None) -> None:
    if event_name in _FAILED_EVENTS:
        raise UpstreamEventError(*_REPORTED)
    # A cheap structural check instead of a parse per chunk: a truncated or garbled
    # line fails it. The rare lines that need a real parse get one below.
    if payload[:1] != b"{" or payload[-1:] != b"}":
        raise UpstreamEventError(*_MALFORMED)


class ChatProtocol:
    """Chat Completions: ends at ``[DONE]`` or after a ``finish_reason``."""

    _ID = re.compile(rb'"id"\s*:\s*"([^"\\]{1,200})"')
    _FINISHED = re.compile(rb'"finish_reason"\s*:\s*"')

    def __init__(self) -> None:
        self.stream_id: str | None = None
        self.finished = False
        self.error_code: str | None = None
        self.usage: dict | None = None

    def check(self, payload: bytes, event_name: bytes | None) -> bytes:
        """Return the line to send for ``payload``, or raise UpstreamEventError."""
        _check_shape(payload, event_name)
        # Errors are told by what the JSON means, not by its bytes: a payload that could
        # be one (the word, or an escape that could spell it) gets a real parse.
        if b"\n" in payload or _ERROR in payload or (_BACKSLASH in payload and _ESCAPE in payload):
            payload, parsed = _compact(payload)
            # OpenAI nests an "error" object; vLLM sends {"object": "error", ...}; others
            # {"type": "error", ...}. Never pass their text on: it can quote key fragments.
            if parsed.get("error") or "error" in (parsed.get("object"), parsed.get("type")):
                raise UpstreamEventError(*_REPORTED)
        if self.stream_id is None:
            found = self._ID.search(payload)
            self.stream_id = found.group(1).decode() if found else None
        if not self.finished and self._FINISHED.search(payload):
            self.finished = True
        if b'"usage":{' in payload or b'"usage": {' in payload:
            # Once a stream (the last chunk, when include_usage is on): worth a parse.
            self.usage = _usage_of(_compact(payload)[1].get("usage"))
        return payload

    def error_line(self, code: str, message: str) -> bytes:
        """The chunk-shaped error line that ends a failed chat stream."""
        self.error_code = code
        line = {
            "id": self.stream_id or f"chatcmpl-streamchat-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "choices": [],
            "error": {"message": message, "type": "upstream_error", "code": code},
        }
        return json.dumps(line, separators=(",", ":")).encode() + b"\n"


class ResponsesProtocol:
    """Responses API: ends after ``response.completed`` or ``response.incomplete``."""

    # The event type is the top-level "type", which upstreams put first. Nested output
    # items have "type" fields too, so without a real parse only a "type" that opens the
    # payload counts; any other payload is parsed (see check).
    _HEAD_TYPE = re.compile(rb'\{\s*"type"\s*:\s*"([a-z_.]+)"')
    _SEQUENCE = re.compile(rb'"sequence_number"\s*:\s*(\d+)')
    _ENDS = (b"response.completed", b"response.incomplete")

    def __init__(self) -> None:
        self.finished = False
        self.error_code: str | None = None
        self.usage: dict | None = None
        self._last = b""

    def check(self, payload: bytes, event_name: bytes | None) -> bytes:
        """Return the line to send for ``payload``, or raise UpstreamEventError."""
        _check_shape(payload, event_name)
        head = self._HEAD_TYPE.match(payload)
        if (
            head is None
            or b"\n" in payload
            or _ERROR in payload
            or (_BACKSLASH in payload and _ESCAPE in payload)
        ):
            payload, parsed = _compact(payload)
            kind = parsed.get("type")
            kind = kind.encode() if isinstance(kind, str) else b""
            if parsed.get("error"):
                raise UpstreamEventError(*_REPORTED)
        else:
            kind = head.group(1)
        if kind in _FAILED_EVENTS:
            # Both carry the upstream's own message: replaced by ours, never passed on.
            raise UpstreamEventError(*_REPORTED)
        if event_name in self._ENDS or kind in self._ENDS:
            self.finished = True
            response = _compact(payload)[1].get("response")
            self.usage = _usage_of(response.get("usage") if isinstance(response, dict) else None)
        self._last = payload
        return payload

    def error_line(self, code: str, message: str) -> bytes:
        """An ``error`` event, the shape the upstream itself uses, numbered next in line."""
        self.error_code = code
        found = self._SEQUENCE.search(self._last)
        line = {
            "type": "error",
            "code": code,
            "message": message,
            "param": None,
            "sequence_number": int(found.group(1)) + 1 if found else 0,
        }
        return json.dumps(line, separators=(",", ":")).encode() + b"\n"
