"""A cheap fake OpenAI-compatible upstream that stamps every chunk with its emission time.

``POST /v1/chat/completions`` answers with an SSE stream of ``tokens`` chat.completion.chunk
events, one every ``interval_ms``, each in its own HTTP chunk, then a finish chunk,
``data: [DONE]`` and the chunked terminator. Each event's ``system_fingerprint`` carries
``t<time.monotonic_ns()>`` taken right before the write (``s<...>`` on the finish chunk), so
the load generator in the same process can tell how long the relay held each chunk.

Streams are paced by one ticker that wakes every millisecond and serves only the streams
whose phase (start time modulo the interval) falls in that slot: 500 streams are spread
evenly over the interval instead of bursting together, as independent real streams would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from .http1 import LAST_CHUNK, ProtocolError, frame_chunk, take_request

TICK_NS = 1_000_000

_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
)
_DONE = frame_chunk(b"data: [DONE]\n\n") + LAST_CHUNK
_CONTENT = b'"choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}'
_FIRST = (
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":"tok "},"finish_reason":null}]}'
)
_FINISH = b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
_MODELS = json.dumps(
    {"object": "list", "data": [{"id": "bench-model", "object": "model", "owned_by": "bench"}]}
).encode()


def _plain_response(status: str, body: bytes, content_type: str = "application/json") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class _Stream:
    """One streamed reply: what it has sent so far and when its next chunk is due."""

    __slots__ = ("conn", "next_tick", "prefix", "sent", "tokens", "upstream")

    def __init__(self, upstream: FakeUpstream, conn: _Connection, number: int) -> None:
        self.upstream = upstream
        self.conn = conn
        self.tokens = upstream.tokens
        self.sent = 0
        self.next_tick = 0
        created = int(upstream.wall_clock())
        self.prefix = (
            b'{"id":"chatcmpl-bench%d","object":"chat.completion.chunk","created":%d,'
            b'"model":"bench-model","system_fingerprint":"' % (number, created)
        )

    def emit(self) -> bool:
        """Write the next event; returns True once the stream is complete."""
        transport = self.conn.transport
        if transport is None or transport.is_closing():
            return True
        if self.sent < self.tokens:
            body = _FIRST if self.sent == 0 else _CONTENT
            # Stamped as late as possible: the delay measured starts at this write.
            event = b'data: %st%d",%s\n\n' % (self.prefix, self.upstream.clock(), body)
            transport.write(frame_chunk(event))
            self.sent += 1
            return False
        event = b'data: %ss%d",%s\n\n' % (self.prefix, self.upstream.clock(), _FINISH)
        transport.write(frame_chunk(event) + _DONE)
        self.upstream.completed += 1
        self.conn.stream = None
        return True


class _Connection(asyncio.Protocol):
    """One connection from a relay; requests on it are served one after another."""

    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.stream: _Stream | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        if self.stream is not None:
            # The relay hung up mid-stream: the ticker drops it on its next turn.
            self.upstream.aborted += 1
            self.stream = None
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and self.stream is None:
            try:
                parsed = take_request(self.buffer)
            except ProtocolError:
                self.transport.close()
                return
            if parsed is None:
                return  # the request is still arriving
            start_line, _, self.buffer = parsed
            self._answer(start_line)

    def _answer(self, start_line: str) -> None:
        method, _, rest = start_line.partition(" ")
        path = rest.partition(" ")[0].split("?", 1)[0]
        if method == "POST" and path.endswith("/chat/completions"):
            self.stream = self.upstream.open_stream(self)
        elif method == "GET" and path.endswith("/models"):
            self.transport.write(_plain_response("200 OK", _MODELS))
        else:
            self.transport.write(_plain_response("404 Not Found", b'{"error":"not found"}'))


class FakeUpstream:
    """The fake upstream server. Set ``tokens`` between phases; it applies to new streams."""

    # The clocks in each event: its stamp (ns), and the stream's "created" (s).
    clock = staticmethod(time.monotonic_ns)
    wall_clock = staticmethod(time.time)

    def __init__(self, tokens: int = 200, interval_ms: int = 20) -> None:
        self.tokens = tokens
        self.interval_ticks = max(1, int(interval_ms))
        self.port = 0
        self.started = 0
        self.completed = 0
        self.aborted = 0
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task | None = None
        # One list of streams per millisecond slot of the interval.
        self._slots: list[list[_Stream]] = [[] for _ in range(self.interval_ticks)]
        self._active = 0
        self._wake = asyncio.Event()
        self._epoch = time.monotonic_ns()
        self._done_tick = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host`` (loopback only) and start the ticker; returns the port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick_loop())
        return self.port

    async def close(self) -> None:
        """Stop listening and stop the ticker."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def counters(self) -> dict[str, int]:
        """Streams started, completed and cut short by the relay so far."""
        return {"started": self.started, "completed": self.completed, "aborted": self.aborted}

    def _now_tick(self) -> int:
        return (time.monotonic_ns() - self._epoch) // TICK_NS

    def open_stream(self, conn: _Connection) -> _Stream:
        """Start a stream on ``conn``: head and first chunk now, the rest on its slot."""
        self.started += 1
        stream = _Stream(self, conn, self.started)
        conn.transport.write(_STREAM_HEAD)
        stream.emit()
        if self._active == 0:
            # The ticker slept while idle: skip the idle ticks instead of replaying them.
            self._done_tick = self._now_tick()
        stream.next_tick = self._done_tick + self.interval_ticks
        self._slots[stream.next_tick % self.interval_ticks].append(stream)
        self._active += 1
        self._wake.set()
        return stream

    async def _tick_loop(self) -> None:
        interval = self.interval_ticks
        slots = self._slots
        while True:
            if self._active == 0:
                self._wake.clear()
                await self._wake.wait()
            now = self._now_tick()
            # Catch up on every slot passed since the last turn, so a late wake-up
            # delays chunks but never skips or reorders them.
            while self._done_tick < now:
                self._done_tick += 1
                tick = self._done_tick
                slot = slots[tick % interval]
                if not slot:
                    continue
                finished = False
                for stream in slot:
                    if stream.next_tick <= tick:
                        if stream.emit():
                            stream.next_tick = -1
                            finished = True
                        else:
                            stream.next_tick += interval
                if finished:
                    kept = [s for s in slot if s.next_tick >= 0]
                    self._active -= len(slot) - len(kept)
                    slots[tick % interval] = kept
            await asyncio.sleep(0.001)


class LockstepUpstream(FakeUpstream):
    """The fake upstream without a clock, for one stream at a time: the stream's next
    event goes out when ``advance()`` is called, so a relay reading it finds exactly one
    event per read, however slow it is (the instructions scenario runs it under valgrind)."""

    streaming: _Stream | None = None
    # Stopped clocks: its events are the same bytes every time, so scanning one (a
    # substring search's steps depend on the bytes) costs the same every time too.
    clock = staticmethod(lambda: 1_000_000_000_000_000)
    wall_clock = staticmethod(lambda: 1_700_000_000)

    def open_stream(self, conn: _Connection) -> _Stream:
        """Start a stream on ``conn``: the head and its first event, then wait."""
        self.started += 1
        self.streaming = _Stream(self, conn, 1)  # the same id every time, too
        conn.transport.write(_STREAM_HEAD)
        self.streaming.emit()
        return self.streaming

    def advance(self) -> None:
        """The stream's next event; after its last token the finish, [DONE] and the end."""
        if self.streaming is not None and self.streaming.emit():
            self.streaming = None
