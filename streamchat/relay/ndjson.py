"""The relay: upstream SSE bytes in, NDJSON lines out (docs/architecture.md, "Wire protocol").

A plain generator fed plain data. It forwards each SSE ``data:`` payload exactly as it
arrived, one line each, and asks a protocol object (streamchat.relay.protocols) to look
inside a payload only for errors and the end. No SDK model object is built per chunk:
that is what keeps it cheap.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import httpx2

from .pacing import WriteMark
from .protocols import ChatProtocol, ResponsesProtocol, UpstreamEventError

HEARTBEAT_LINE = b"\n"
_DONE = b"[DONE]"
# Far above any real chunk (a few hundred bytes; a 1 MB delta is an extreme); the
# setting is MAX_UPSTREAM_EVENT_BYTES.
DEFAULT_MAX_EVENT_BYTES = 1 << 20
_TOO_LARGE = ("upstream_malformed", "The model provider sent a reply part too large to relay.")


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
    source: Iterable[bytes | None],
    protocol: ChatProtocol | ResponsesProtocol,
    *,
    mark: WriteMark | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> Iterator[bytes]:
    """Turn upstream SSE bytes into NDJSON lines.

    ``source`` yields raw body chunks as they arrive, or ``None`` when a heartbeat is due
    (a blank line goes out then). Whatever one read delivers goes out in one write, and
    ``mark`` notes when (streamchat.relay.pacing). One event, its data lines and any
    unfinished line together, may hold at most ``max_event_bytes``: past that the
    stream ends with an ``upstream_malformed`` error line. A failure after the start
    becomes the protocol's error line, always the last line.
    """
    if mark is None:
        mark = WriteMark()
    clock = time.monotonic
    # An unfinished line, in the pieces it came in: joined once when its end arrives,
    # so a long line costs one copy, not one per read.
    parts: list[bytes] = []
    event_bytes = 0  # the current event's data lines so far
    partial = 0  # the unfinished line's bytes
    data_lines: list[bytes] = []
    event_name: bytes | None = None
    out: list[bytes] = []
    try:
        for chunk in source:
            if chunk is None:
                yield HEARTBEAT_LINE
                continue
            if (
                not parts
                and not data_lines
                and chunk[:6] == b"data: "
                and chunk[-3:] != b"\r\n\n"
                and chunk[-2:] == b"\n\n"
                and chunk.count(b"\n") == 2
                and chunk != b"data: [DONE]\n\n"
                and len(chunk) <= max_event_bytes
            ):
                # The common case, one whole event per read: no split, no copies. The
                # line to send is the read minus "data: " and one of its newlines.
                payload = chunk[6:-2]
                line = protocol.check(payload, event_name)
                mark.last = clock()
                yield chunk[6:-1] if line is payload else line + b"\n"
                event_name = None
                continue
            parts.append(chunk)
            if b"\n" not in chunk:
                partial += len(chunk)
                if partial + event_bytes > max_event_bytes:
                    raise UpstreamEventError(*_TOO_LARGE)
                continue
            *lines, rest = b"".join(parts).split(b"\n")
            parts.clear()
            for raw_line in lines:
                line = raw_line[:-1] if raw_line.endswith(b"\r") else raw_line
                if line:
                    if line.startswith(b"data:"):
                        value = line[5:]
                        value = value[1:] if value.startswith(b" ") else value
                        data_lines.append(value)
                        event_bytes += len(value)
                    elif line.startswith(b"event:"):
                        event_name = line[6:].strip()
                    # Comments (":"), "id:" and "retry:" carry nothing the browser needs.
                    continue
                if not data_lines:
                    event_name = None
                    continue
                payload = data_lines[0] if len(data_lines) == 1 else b"\n".join(data_lines)
                data_lines.clear()
                event_bytes = 0
                if payload == _DONE:
                    if out:
                        mark.last = clock()
                        yield b"".join(out)
                    return
                if len(payload) > max_event_bytes:
                    raise UpstreamEventError(*_TOO_LARGE)
                out.append(protocol.check(payload, event_name) + b"\n")
                event_name = None
            partial = len(rest)
            if rest:
                parts.append(rest)
            if partial + event_bytes > max_event_bytes:
                raise UpstreamEventError(*_TOO_LARGE)
            if out:
                batch, out = b"".join(out), []
                mark.last = clock()
                yield batch
    except Exception as exc:  # GeneratorExit (client left) is not an Exception: it passes.
        code, message = _describe_failure(exc)
        # Lines already parsed from the failing read still go out, before the error line.
        yield b"".join(out) + protocol.error_line(code, message)
        return
    ended_with_done = _DONE in data_lines or b"".join(parts).startswith(b"data: [DONE]")
    if not protocol.finished and not ended_with_done:
        # The body ended with no [DONE] and no sign of a finished reply: cut off.
        yield protocol.error_line(
            "upstream_cut_off", "The model provider ended the reply before it was done."
        )
