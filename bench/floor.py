"""The floor: a raw asyncio byte relay, the least a Python relay on this machine costs.

Plain asyncio (no uvloop), Protocols and transports, no HTTP library. For each
``POST /api/chat`` it opens a TCP connection to the upstream, sends the chat request,
decodes the upstream's chunked SSE body and writes each ``data:`` payload to the client
as one NDJSON line, in one chunked write per upstream read. It does nothing else a real
server must (validation, limits, logging, errors beyond a 502), which is the point.

Usage: ``python -m bench.floor --port P --upstream-port U [--model M]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

from .http1 import (
    LAST_CHUNK,
    ChunkedDecoder,
    ProtocolError,
    chat_request,
    frame_chunk,
    split_head,
    status_code,
    take_request,
)

_RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/x-ndjson\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
)
_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_DONE = b"[DONE]"


def sse_lines_to_ndjson(lines: list[bytes]) -> bytes:
    """NDJSON for complete SSE lines: each ``data:`` payload and a newline, [DONE] dropped."""
    out = []
    for line in lines:
        if line.startswith(b"data:"):
            payload = line[5:]
            if payload.startswith(b" "):
                payload = payload[1:]
            if payload.endswith(b"\r"):
                payload = payload[:-1]
            if payload and payload != _DONE:
                out.append(payload + b"\n")
    return b"".join(out)


class NdjsonFromSse:
    """SSE body bytes in, NDJSON lines out, keeping an incomplete last line for later."""

    __slots__ = ("_partial",)

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, data: bytes) -> bytes:
        """The NDJSON for every SSE line ``data`` completes (possibly empty)."""
        text = self._partial + data if self._partial else data
        end = text.rfind(b"\n")
        if end < 0:
            self._partial = text
            return b""
        self._partial = text[end + 1 :]
        return sse_lines_to_ndjson(text[:end].split(b"\n"))


class _UpstreamLeg(asyncio.Protocol):
    """The relay's connection to the upstream for one client request."""

    def __init__(self, client: _ClientLeg, request: bytes) -> None:
        self.client = client
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.decoder: ChunkedDecoder | None = None
        self.ndjson = NdjsonFromSse()
        self.finished = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.finished:
            # Cut off: end the client's body without its terminator, so it sees that.
            self.client.abort()

    def data_received(self, data: bytes) -> None:
        try:
            if self.decoder is None:
                data = self._read_head(data)
                if not data:
                    return
            payload = self.decoder.feed(data)
        except ProtocolError:
            self.transport.close()
            return
        lines = self.ndjson.feed(payload) if payload else b""
        if self.decoder.done:
            self.finished = True
            self.client.finish(frame_chunk(lines) + LAST_CHUNK if lines else LAST_CHUNK)
            self.transport.close()
        elif lines:
            self.client.write(frame_chunk(lines))

    def _read_head(self, data: bytes) -> bytes:
        self.head += data
        parsed = split_head(self.head)
        if parsed is None:
            return b""
        status_line, _headers, rest = parsed
        if status_code(status_line) != 200:
            self.finished = True
            self.client.write(_BAD_GATEWAY)
            self.client.close()
            self.transport.close()
            return b""
        self.decoder = ChunkedDecoder()
        self.client.write(_RESPONSE_HEAD)
        return rest


class _ClientLeg(asyncio.Protocol):
    """One client connection: reads a request, relays the reply, then reads the next."""

    def __init__(self, upstream_port: int, model: str) -> None:
        self.upstream_port = upstream_port
        self.model = model
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.upstream: _UpstreamLeg | None = None
        self.busy = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.finished = True
            self.upstream.transport.close()  # nobody is listening: stop the upstream

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.busy:
            return
        try:
            parsed = take_request(self.buffer)
        except ProtocolError:
            self.transport.close()
            return
        if parsed is None:
            return
        start_line, request_body, self.buffer = parsed
        method, _, target = start_line.partition(" ")
        if method != "POST" or not target.startswith("/api/chat "):
            self.write(_NOT_FOUND)
            self.close()
            return
        self.busy = True
        messages = json.loads(request_body)["messages"]
        request = chat_request(self.upstream_port, self.model, messages)
        asyncio.get_running_loop().create_task(self._connect(request))

    async def _connect(self, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.upstream = _UpstreamLeg(self, request)
        try:
            await loop.create_connection(lambda: self.upstream, "127.0.0.1", self.upstream_port)
        except OSError:
            self.upstream.finished = True
            self.write(_BAD_GATEWAY)
            self.close()

    def write(self, data: bytes) -> None:
        """Send ``data`` to the client if it is still connected."""
        if self.transport is not None:
            self.transport.write(data)

    def finish(self, data: bytes) -> None:
        """Send the end of the reply; the connection may then carry another request."""
        self.write(data)
        self.busy = False
        self.upstream = None

    def close(self) -> None:
        """Close the client connection after what was written."""
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the client connection at once (the upstream cut the reply off)."""
        if self.transport is not None:
            self.transport.abort()


async def serve(port: int, upstream_port: int, model: str) -> None:
    """Serve on 127.0.0.1:``port`` until the process is stopped."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _ClientLeg(upstream_port, model), "127.0.0.1", port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--model", default="bench-model")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.upstream_port, args.model))


if __name__ == "__main__":
    main()
