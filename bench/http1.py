"""The few pieces of HTTP/1.1 the harness and the floor relay need, written by hand.

No HTTP library on purpose: the floor must show what bytes-in, bytes-out costs, and the
harness must stay cheap enough that one core drives hundreds of streams. The chunked
decoder here does the job of streamchat.relay.body_framing.Chunked on purpose too: the
yardsticks and the load generator must not share code with what they measure.
"""

from __future__ import annotations

import json

# The key every bench process sends upstream: shaped so nobody mistakes it for a real one.
PLACEHOLDER_API_KEY = "bench-placeholder-not-a-key"

HEAD_END = b"\r\n\r\n"
# Far larger than any head we send or expect; a peer past it is broken, not slow.
MAX_HEAD_BYTES = 64 * 1024


def chat_request(upstream_port: int, model: str, messages: list) -> bytes:
    """The streamed Chat Completions request a reference relay sends the fake upstream."""
    body = json.dumps({"model": model, "messages": messages, "stream": True}).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{upstream_port}\r\n"
        f"Authorization: Bearer {PLACEHOLDER_API_KEY}\r\n"
        f"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class ProtocolError(ValueError):
    """The peer sent bytes that are not the HTTP/1.1 we expect."""


def split_head(buffer: bytes) -> tuple[str, dict[str, str], bytes] | None:
    """Split a complete message head off ``buffer``.

    Returns ``(start line, headers with lower-case names, the bytes after the head)``,
    or None while the head is still incomplete.
    """
    end = buffer.find(HEAD_END)
    if end < 0:
        if len(buffer) > MAX_HEAD_BYTES:
            raise ProtocolError("message head too large")
        return None
    lines = buffer[:end].decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"malformed header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, buffer[end + len(HEAD_END) :]


def take_request(buffer: bytes) -> tuple[str, bytes, bytes] | None:
    """Split the first whole request (head and Content-Length body) off ``buffer``.

    Returns ``(start line, body, the bytes after it)``, or None while it is still
    arriving. Raises ProtocolError for a malformed head.
    """
    parsed = split_head(buffer)
    if parsed is None:
        return None
    start_line, headers, rest = parsed
    length = int(headers.get("content-length") or 0)
    if len(rest) < length:
        return None
    return start_line, rest[:length], rest[length:]


def status_code(status_line: str) -> int:
    """The numeric status of a response's status line (``HTTP/1.1 200 OK`` → 200)."""
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProtocolError(f"malformed status line {status_line!r}")
    return int(parts[1])


def frame_chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked transfer-encoded body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


class ChunkedDecoder:
    """Incremental decoder of a chunked body: feed it reads, get the payload bytes back.

    Chunk boundaries need not line up with reads: a size line, a chunk's data or its
    closing CRLF may be split anywhere. ``done`` turns true after the last chunk and the
    blank line that ends the (empty) trailer.
    """

    __slots__ = ("_need_crlf", "_pending", "_remaining", "_trailer", "done")

    def __init__(self) -> None:
        self._pending = b""
        self._remaining = 0  # data bytes still due in the current chunk
        self._need_crlf = False  # the CRLF after a chunk's data is still due
        self._trailer = False  # the last chunk was seen; waiting for the final CRLF
        self.done = False

    def feed(self, data: bytes) -> bytes:
        """Decode one read; returns the payload bytes it completed (possibly empty)."""
        buf = self._pending + data if self._pending else data
        pos = 0
        size = len(buf)
        out: list[bytes] = []
        while pos < size and not self.done:
            if self._remaining:
                take = min(self._remaining, size - pos)
                out.append(buf[pos : pos + take])
                pos += take
                self._remaining -= take
                if self._remaining:
                    break
                self._need_crlf = True
                continue
            if self._need_crlf or self._trailer:
                if size - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    # Trailer fields are legal but nobody here sends them.
                    raise ProtocolError("expected CRLF in chunked body")
                pos += 2
                if self._trailer:
                    self.done = True
                self._need_crlf = False
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                if size - pos > 64:
                    raise ProtocolError("chunk size line too long")
                break
            try:
                length = int(buf[pos:end].split(b";", 1)[0], 16)
            except ValueError:
                raise ProtocolError("malformed chunk size") from None
            pos = end + 2
            if length == 0:
                self._trailer = True
            else:
                self._remaining = length
        self._pending = buf[pos:] if pos < size and not self.done else b""
        if not out:
            return b""
        return out[0] if len(out) == 1 else b"".join(out)
