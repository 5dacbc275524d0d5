"""HTTP/1.1 response body framing (RFC 9112 section 6), undone incrementally.

streamchat.relay.direct_body reads a streamed body off the socket itself; these turn the
bytes it reads into body bytes. h11 does the same job but builds an event per chunk and
runs its state machine twice per token: about a tenth of the relay's whole cost per
chunk. These do only what a response body needs. The status line and headers are still
parsed by h11, which has also rejected conflicting framing headers by then.
"""

from __future__ import annotations

import re

_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_MAX_LINE = 8192  # a chunk-size line or a trailer field longer than this is garbage


class BrokenFraming(ConnectionError):
    """The body's framing is malformed, or the connection ended inside the body."""


class Chunked:
    """``Transfer-Encoding: chunked``: size line, data, CRLF; a zero size ends it."""

    def __init__(self) -> None:
        self._pending = b""  # an incomplete size line, CRLF or trailer
        self._left = 0  # data bytes of the current chunk still to come
        self._crlf = False  # the CRLF after a chunk's data is next
        self._trailer = False  # past the last chunk, reading trailer fields
        self.done = False
        self.extra = False  # bytes after the end: the connection cannot be reused

    def feed(self, data: bytes) -> bytes:
        """Body bytes in ``data`` (may be empty). Raises BrokenFraming."""
        if not (self._pending or self._left or self._crlf or self._trailer or self.done):
            # The common case, exactly one whole chunk per read: one slice.
            end = data.find(b"\r\n")
            if end > 0 and _HEX.fullmatch(data, 0, end):
                size = int(data[:end], 16)
                if size and len(data) == end + size + 4 and data[-2:] == b"\r\n":
                    return data[end + 2 : -2]
        buf = self._pending + data if self._pending else data
        self._pending = b""
        size = len(buf)
        pos = 0
        out: list[bytes] = []
        while pos < size:
            if self.done:
                self.extra = True
                break
            if self._left:
                end = min(size, pos + self._left)
                out.append(buf[pos:end])
                self._left -= end - pos
                pos = end
                self._crlf = not self._left
                continue
            if self._crlf:
                if size - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise BrokenFraming("chunk data not followed by CRLF")
                pos += 2
                self._crlf = False
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                if size - pos > _MAX_LINE:
                    raise BrokenFraming("chunk-size line too long")
                break
            line = buf[pos:end]
            pos = end + 2
            if self._trailer:
                self.done = not line  # an empty line ends the trailer section
                continue
            digits = line.split(b";", 1)[0].strip(b" \t")
            if not _HEX.fullmatch(digits):
                raise BrokenFraming("bad chunk-size line")
            self._left = int(digits, 16)
            self._trailer = not self._left
        self._pending = buf[pos:] if pos < size and not self.done else b""
        return out[0] if len(out) == 1 else b"".join(out)

    @property
    def between_chunks(self) -> bool:
        """True when everything fed so far ended exactly after a whole chunk."""
        return not (self._left or self._crlf or self._pending or self._trailer)

    def end_of_input(self) -> None:
        """The connection closed: fine only after the last chunk."""
        if not self.done:
            raise BrokenFraming("the connection closed inside a chunked body")


class Length:
    """``Content-Length``: exactly that many bytes."""

    def __init__(self, length: int) -> None:
        self._left = length
        self.done = length == 0
        self.extra = False

    def feed(self, data: bytes) -> bytes:
        """Body bytes in ``data``."""
        if len(data) > self._left:
            self.extra = True
            data = data[: self._left]
        self._left -= len(data)
        self.done = not self._left
        return data

    def end_of_input(self) -> None:
        """The connection closed: fine only once every byte has come."""
        if not self.done:
            raise BrokenFraming("the connection closed before Content-Length bytes came")


class UntilClose:
    """Neither header: the body is everything until the server closes (HTTP/1.0 style)."""

    done = False
    extra = False

    def feed(self, data: bytes) -> bytes:
        """Body bytes in ``data``: all of them."""
        return data

    def end_of_input(self) -> None:
        """The close is the end."""
        self.done = True


def framing_for(headers) -> Chunked | Length | UntilClose:
    """The decoder for a response with ``headers`` (an httpx2.Headers)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Chunked()
    length = headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise BrokenFraming("bad Content-Length")
        return Length(int(length))
    return UntilClose()
