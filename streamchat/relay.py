"""The relay: upstream SSE bytes in, NDJSON lines out (DESIGN.md section 3).

A plain generator fed plain data. It forwards each SSE ``data:`` payload exactly as it
arrived, one line each, and looks inside a payload only for errors and the end. No SDK
model object is built per chunk: that is what keeps it cheap. What differs between
Chat Completions and the Responses API (how a stream ends, what an error line looks
like) lives in a small protocol object.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator

import httpx2

HEARTBEAT_LINE = b"\n"
_DONE = b"[DONE]"
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


def _describe_failure(exc: Exception) -> tuple[str, str]:
    """(code, message for the user) for an exception raised while reading the upstream."""
    if isinstance(exc, UpstreamEventError):
        return exc.code, exc.message
    # The source is raw body bytes (direct_body or httpx2's iter_bytes), never the SDK's
    # own stream, so its timeouts are httpx2's or direct_body's, not the SDK's.
    if isinstance(exc, httpx2.TimeoutException | TimeoutError):
        return "upstream_timeout", "The model provider stopped sending the reply in time."
    return "upstream_disconnected", "The connection to the model provider broke mid-reply."


def relay(
    source: Iterable[bytes | None], protocol: ChatProtocol | ResponsesProtocol
) -> Iterator[bytes]:
    """Turn upstream SSE bytes into NDJSON lines.

    ``source`` yields raw body chunks as they arrive, or ``None`` when the upstream has
    been silent for a heartbeat interval (a blank line goes out then). Whatever one read
    delivers goes out in one write. A failure after the start becomes the protocol's
    error line, always the last line.
    """
    pending = b""
    data_lines: list[bytes] = []
    event_name: bytes | None = None
    out: list[bytes] = []
    try:
        for chunk in source:
            if chunk is None:
                yield HEARTBEAT_LINE
                continue
            if (
                not pending
                and not data_lines
                and chunk[:6] == b"data: "
                and chunk[-3:] != b"\r\n\n"
                and chunk[-2:] == b"\n\n"
                and chunk.count(b"\n") == 2
                and chunk != b"data: [DONE]\n\n"
            ):
                # The common case, one whole event per read: no split, no copies. The
                # line to send is the read minus "data: " and one of its newlines.
                payload = chunk[6:-2]
                line = protocol.check(payload, event_name)
                yield chunk[6:-1] if line is payload else line + b"\n"
                event_name = None
                continue
            pending += chunk
            if b"\n" not in chunk:
                continue
            *lines, pending = pending.split(b"\n")
            for raw_line in lines:
                line = raw_line[:-1] if raw_line.endswith(b"\r") else raw_line
                if line:
                    if line.startswith(b"data:"):
                        value = line[5:]
                        data_lines.append(value[1:] if value.startswith(b" ") else value)
                    elif line.startswith(b"event:"):
                        event_name = line[6:].strip()
                    # Comments (":"), "id:" and "retry:" carry nothing the browser needs.
                    continue
                if not data_lines:
                    event_name = None
                    continue
                payload = data_lines[0] if len(data_lines) == 1 else b"\n".join(data_lines)
                data_lines.clear()
                if payload == _DONE:
                    if out:
                        yield b"".join(out)
                    return
                out.append(protocol.check(payload, event_name) + b"\n")
                event_name = None
            if out:
                batch, out = b"".join(out), []
                yield batch
    except Exception as exc:  # GeneratorExit (client left) is not an Exception: it passes.
        code, message = _describe_failure(exc)
        # Lines already parsed from the failing read still go out, before the error line.
        yield b"".join(out) + protocol.error_line(code, message)
        return
    ended_with_done = _DONE in data_lines or pending.startswith(b"data: [DONE]")
    if not protocol.finished and not ended_with_done:
        # The body ended with no [DONE] and no sign of a finished reply: cut off.
        yield protocol.error_line(
            "upstream_cut_off", "The model provider ended the reply before it was done."
        )


def relay_chat(source: Iterable[bytes | None]) -> Iterator[bytes]:
    """The relay for Chat Completions streams (``/api/chat``)."""
    return relay(source, ChatProtocol())


def relay_responses(source: Iterable[bytes | None]) -> Iterator[bytes]:
    """The relay for Responses API streams (``/api/responses``)."""
    return relay(source, ResponsesProtocol())
