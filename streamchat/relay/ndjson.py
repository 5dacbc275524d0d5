"""Upstream SSE bytes in, NDJSON lines out (docs/architecture.md, "Wire protocol").

A plain generator fed plain data. It forwards each SSE ``data:`` payload exactly as it
arrived, one line each, and asks a protocol object (streamchat.relay.protocols) to look
inside a payload only for errors and the end. No SDK model object is built per chunk:
that is what keeps it cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import httpx2

from .protocols import ChatProtocol, ResponsesProtocol, UpstreamEventError
from .write_mark import WriteMark

HEARTBEAT_LINE = b"\n"
_DONE = b"[DONE]"
# Far above any real chunk (a few hundred bytes; a 1 MB delta is an extreme); the
# setting is MAX_UPSTREAM_EVENT_BYTES.
DEFAULT_MAX_EVENT_BYTES = 1 << 20
# What ``interrupted()`` returns when the server ended the stream on purpose (a stop):
# the lines so far stand, and no error line follows.
ENDED_QUIETLY = UpstreamEventError("", "")
_TOO_LARGE = ("upstream_malformed", "The model provider sent a reply part too large to relay.")


def _describe_failure(exc: Exception, reason: UpstreamEventError | None) -> tuple[str, str]:
    """(code, message for the user) for an exception raised while reading the upstream;
    ``reason`` is why the server ended the stream itself, when it did."""
    if reason is not None:
        return reason.code, reason.message
    if isinstance(exc, UpstreamEventError):
        return exc.code, exc.message
    # The source is raw body bytes (direct_body or httpx2's iter_bytes), never the SDK's
    # own stream, so its timeouts are httpx2's or direct_body's, not the SDK's.
    if isinstance(exc, httpx2.TimeoutException | TimeoutError):
        return "upstream_timeout", "The model provider stopped sending the reply in time."
    return "upstream_disconnected", "The connection to the model provider broke mid-reply."


def _not_interrupted() -> None:
    return None


class _Events:
    """The general case of SSE parsing: events split across reads, several in one read,
    ``event:`` names, comments, CRLF. Holds what is unfinished between reads."""

    __slots__ = (
        "data_lines",
        "done",
        "event_bytes",
        "event_name",
        "max_bytes",
        "out",
        "partial",
        "parts",
        "protocol",
    )

    def __init__(self, protocol: ChatProtocol | ResponsesProtocol, max_bytes: int) -> None:
        self.protocol = protocol
        self.max_bytes = max_bytes
        # An unfinished line, in the pieces it came in: joined once when its end arrives,
        # so a long line costs one copy, not one per read.
        self.parts: list[bytes] = []
        self.partial = 0  # the unfinished line's bytes
        self.event_bytes = 0  # the current event's data lines so far
        self.data_lines: list[bytes] = []
        self.event_name: bytes | None = None
        self.out: list[bytes] = []  # lines of this read, sent together
        self.done = False  # [DONE] seen

    def feed(self, chunk: bytes) -> bytes:
        """The lines ``chunk`` completes, joined (empty when none). Raises
        UpstreamEventError for an error event or an event over the size bound; the lines
        parsed before it stay in ``out``."""
        self.parts.append(chunk)
        if b"\n" not in chunk:
            self.partial += len(chunk)
            if self.partial + self.event_bytes > self.max_bytes:
                raise UpstreamEventError(*_TOO_LARGE)
            return b""
        *lines, rest = b"".join(self.parts).split(b"\n")
        self.parts.clear()
        for raw_line in lines:
            self._line(raw_line[:-1] if raw_line.endswith(b"\r") else raw_line)
            if self.done:  # nothing after [DONE] counts
                return self._batch()
        self.partial = len(rest)
        if rest:
            self.parts.append(rest)
        if self.partial + self.event_bytes > self.max_bytes:
            raise UpstreamEventError(*_TOO_LARGE)
        return self._batch()

    def _batch(self) -> bytes:
        batch = b"".join(self.out)
        self.out.clear()
        return batch

    def _line(self, line: bytes) -> None:
        if line:
            if line.startswith(b"data:"):
                value = line[5:]
                value = value[1:] if value.startswith(b" ") else value
                self.data_lines.append(value)
                self.event_bytes += len(value)
            elif line.startswith(b"event:"):
                self.event_name = line[6:].strip()
            # Comments (":"), "id:" and "retry:" carry nothing the browser needs.
            return
        if not self.data_lines:
            self.event_name = None
            return
        data = self.data_lines
        payload = data[0] if len(data) == 1 else b"\n".join(data)
        data.clear()
        self.event_bytes = 0
        if payload == _DONE:
            self.done = True
            return
        if len(payload) > self.max_bytes:
            raise UpstreamEventError(*_TOO_LARGE)
        self.out.append(self.protocol.check(payload, self.event_name) + b"\n")
        self.event_name = None

    def ended_with_done(self) -> bool:
        """Whether the body's unfinished tail is a [DONE] event without its blank line."""
        return _DONE in self.data_lines or b"".join(self.parts).startswith(b"data: [DONE]")


def _after_failure(
    events: _Events,
    protocol: ChatProtocol | ResponsesProtocol,
    exc: Exception,
    reason: UpstreamEventError | None,
) -> bytes:
    """What goes out when a read fails: the lines already parsed from the failing read,
    then the error line (none when the server stopped the stream on purpose)."""
    parsed = b"".join(events.out)
    if reason is ENDED_QUIETLY:
        return parsed
    code, message = _describe_failure(exc, reason)
    return parsed + protocol.error_line(code, message)


def _last_line(
    events: _Events, protocol: ChatProtocol | ResponsesProtocol, reason: UpstreamEventError | None
) -> bytes:
    """What follows a body that ended without [DONE]: the server's own reason for closing
    it, a cut-off error line when the reply had not finished, else nothing."""
    if reason is ENDED_QUIETLY:
        return b""
    if reason is not None:
        return protocol.error_line(reason.code, reason.message)
    if not protocol.finished and not events.ended_with_done():
        return protocol.error_line(
            "upstream_cut_off", "The model provider ended the reply before it was done."
        )
    return b""


def ndjson_lines(
    source: Iterable[bytes | None],
    protocol: ChatProtocol | ResponsesProtocol,
    *,
    mark: WriteMark | None = None,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    interrupted: Callable[[], UpstreamEventError | None] = _not_interrupted,
) -> Iterator[bytes]:
    """Turn upstream SSE bytes into NDJSON lines.

    ``source`` yields raw body chunks as they arrive, or ``None`` when a heartbeat is due
    (a blank line goes out then). Whatever one read delivers goes out in one write, and
    ``mark`` notes when (streamchat.relay.write_mark). One event, its data lines and any
    unfinished line together, may hold at most ``max_event_bytes``: past that the
    stream ends with an ``upstream_malformed`` error line. A failure after the start
    becomes the protocol's error line, always the last line. ``interrupted()`` says why
    the server itself closed the upstream (a shutdown), if it did: a read that fails or
    a body that ends then gets that error line instead.
    """
    if mark is None:
        mark = WriteMark()
    clock = time.monotonic
    events = _Events(protocol, max_event_bytes)
    try:
        for chunk in source:
            if chunk is None:
                yield HEARTBEAT_LINE
                continue
            if (
                not events.parts
                and not events.data_lines
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
                line = protocol.check(payload, events.event_name)
                mark.last = clock()
                yield chunk[6:-1] if line is payload else line + b"\n"
                events.event_name = None
                continue
            batch = events.feed(chunk)
            if batch:
                mark.last = clock()
                yield batch
            if events.done:
                return
    except Exception as exc:  # GeneratorExit (client left) is not an Exception: it passes.
        rest = _after_failure(events, protocol, exc, interrupted())
        if rest:
            yield rest
        return
    last = _last_line(events, protocol, interrupted())
    if last:
        yield last
