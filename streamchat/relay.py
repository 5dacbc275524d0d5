"""The relay: upstream SSE bytes in, NDJSON lines out (DESIGN.md section 3).

A plain generator fed plain data. It forwards each SSE ``data:`` payload exactly as it
arrived, one line each, and looks inside a payload only for errors, the stream's id
and the end. No SDK model object is built per chunk: that is what keeps it cheap.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator

import httpx2
import openai

HEARTBEAT_LINE = b"\n"
_DONE = b"[DONE]"
_ID = re.compile(rb'"id"\s*:\s*"([^"\\]{1,200})"')
_FINISHED = re.compile(rb'"finish_reason"\s*:\s*"')


class UpstreamEventError(Exception):
    """The upstream sent an in-band error event or a line that is not a JSON object."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def chat_error_line(stream_id: str | None, code: str, message: str) -> bytes:
    """The chunk-shaped error line that ends a failed chat stream."""
    line = {
        "id": stream_id or f"chatcmpl-streamchat-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "choices": [],
        "error": {"message": message, "type": "upstream_error", "code": code},
    }
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


def _describe_failure(exc: Exception) -> tuple[str, str]:
    """(code, message for the user) for an exception raised while reading the upstream."""
    if isinstance(exc, UpstreamEventError):
        return exc.code, exc.message
    if isinstance(exc, httpx2.TimeoutException | openai.APITimeoutError | TimeoutError):
        return "upstream_timeout", "The model provider stopped sending the reply in time."
    return "upstream_disconnected", "The connection to the model provider broke mid-reply."


def _check_payload(payload: bytes, event_name: bytes | None) -> bytes:
    """Return the payload as one NDJSON-safe line body, or raise UpstreamEventError."""
    if event_name == b"error":
        raise UpstreamEventError("upstream_error", "The model provider reported an error.")
    if payload[:1] != b"{" or payload[-1:] != b"}":
        raise UpstreamEventError("upstream_malformed", "The model provider sent a malformed reply.")
    if b"\n" in payload or b'"error"' in payload:
        # Rare paths, so only here do we pay for a parse: a multi-line data field has to
        # be re-serialised onto one line, and "error" may be an in-band error event.
        try:
            parsed = json.loads(payload)
        except ValueError:
            raise UpstreamEventError(
                "upstream_malformed", "The model provider sent a malformed reply."
            ) from None
        if not isinstance(parsed, dict):
            raise UpstreamEventError(
                "upstream_malformed", "The model provider sent a malformed reply."
            )
        if parsed.get("error"):
            # Never pass the upstream's own text on: it can quote key fragments.
            raise UpstreamEventError("upstream_error", "The model provider reported an error.")
        if b"\n" in payload:
            payload = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()
    return payload


def relay_chat(source: Iterable[bytes | None]) -> Iterator[bytes]:
    """Turn upstream SSE bytes into NDJSON lines.

    ``source`` yields raw body chunks as they arrive, or ``None`` when the upstream has
    been silent for a heartbeat interval (a blank line goes out then). Whatever one read
    delivers goes out in one write. A failure after the start becomes the chunk-shaped
    error line, always the last line.
    """
    stream_id: str | None = None
    finished = False
    pending = b""
    data_lines: list[bytes] = []
    event_name: bytes | None = None
    out: list[bytes] = []
    try:
        for chunk in source:
            if chunk is None:
                yield HEARTBEAT_LINE
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
                payload = _check_payload(payload, event_name)
                event_name = None
                if stream_id is None:
                    found = _ID.search(payload)
                    stream_id = found.group(1).decode() if found else None
                if not finished and _FINISHED.search(payload):
                    finished = True
                out.append(payload + b"\n")
            if out:
                batch, out = b"".join(out), []
                yield batch
    except Exception as exc:  # GeneratorExit (client left) is not an Exception: it passes.
        code, message = _describe_failure(exc)
        # Lines already parsed from the failing read still go out, before the error line.
        yield b"".join(out) + chat_error_line(stream_id, code, message)
        return
    if not finished and _DONE not in data_lines and not pending.startswith(b"data: [DONE]"):
        # The body ended with neither [DONE] nor a finish_reason: the upstream cut us off.
        yield chat_error_line(
            stream_id, "upstream_cut_off", "The model provider ended the reply before it was done."
        )
