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


def _check_shape(payload: bytes, event_name: bytes | None) -> None:
    if event_name == b"error":
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
        if b"\n" in payload or b'"error"' in payload:
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

    # The event type is the top-level "type", which upstreams put first; nested output
    # items have "type" fields too, so only the head of the payload is searched.
    _TYPE = re.compile(rb'"type"\s*:\s*"([a-z_.]+)"')
    _SEQUENCE = re.compile(rb'"sequence_number"\s*:\s*(\d+)')
    _ENDS = (b"response.completed", b"response.incomplete")
    _FAILS = (b"error", b"response.failed")

    def __init__(self) -> None:
        self.finished = False
        self.error_code: str | None = None
        self.usage: dict | None = None
        self._last = b""

    def check(self, payload: bytes, event_name: bytes | None) -> bytes:
        """Return the line to send for ``payload``, or raise UpstreamEventError."""
        _check_shape(payload, event_name)
        if b"\n" in payload:
            payload, _ = _compact(payload)
        found = self._TYPE.search(payload, 0, 160)
        kind = event_name or (found.group(1) if found else b"")
        if kind in self._FAILS:
            # Both carry the upstream's own message: replaced by ours, never passed on.
            raise UpstreamEventError(*_REPORTED)
        if kind in self._ENDS:
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
