"""The load generator: N concurrent chat streams against a relay, measured cheaply.

Each stream is one asyncio Protocol on its own connection. It never parses the JSON
lines: it decodes the chunked body and scans it with one regex for the upstream's
emission stamps (``"system_fingerprint":"t<ns>"``), the finish reason and error objects,
keeping a short tail so a stamp split across two reads is still found once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from dataclasses import dataclass, field

from .http1 import ChunkedDecoder, ProtocolError, split_head, status_code

CHAT_BODY = json.dumps({"messages": [{"role": "user", "content": "Say something."}]}).encode()

# One pass finds all three things a stream's outcome depends on. Group 1 is the stamp's
# kind (t: a token chunk, s: the finish chunk), group 2 its emission time.
_SCAN = re.compile(
    rb'"system_fingerprint":\s*"([ts])(\d+)"|"finish_reason":\s*"stop"|"error":\s*\{'
)
# Longer than anything _SCAN matches, so a match cut in two by a read is seen whole later.
_TAIL = 96


@dataclass
class StreamResult:
    """What one stream saw. Times are time.monotonic_ns() values."""

    index: int
    status: int | None = None
    sent_ns: int = 0
    status_ns: int = 0
    first_chunk_ns: int = 0
    chunks: int = 0  # token chunks relayed (finish chunk not counted)
    finish_seen: bool = False
    terminated: bool = False  # the chunked body ended with its terminator
    error_lines: int = 0
    retry_after: str | None = None
    error_code: str | None = None  # of a JSON error body (non-200 answers)
    failure: str | None = None  # None: the exchange finished; else why it did not
    delays_ns: list[int] = field(default_factory=list, repr=False)
    emitted_ns: list[int] = field(default_factory=list, repr=False)  # each delay's stamp

    @property
    def ttfb_ns(self) -> int | None:
        """Request sent → first relayed chunk received."""
        return self.first_chunk_ns - self.sent_ns if self.first_chunk_ns else None

    def ok(self, expected_chunks: int) -> bool:
        """A complete, clean stream: 200, every token chunk, the finish, the terminator."""
        return (
            self.failure is None
            and self.status == 200
            and self.finish_seen
            and self.terminated
            and self.error_lines == 0
            and self.chunks == expected_chunks
        )

    def outcome(self, expected_chunks: int) -> str:
        """``ok``, or a short reason the stream failed."""
        if self.ok(expected_chunks):
            return "ok"
        if self.failure:
            return self.failure
        if self.status != 200:
            return f"status_{self.status}"
        if self.error_lines:
            return "error_line"
        if not self.finish_seen or not self.terminated:
            return "cut_off"
        return "missing_chunks"


class _StreamClient(asyncio.Protocol):
    """Sends one POST and reads the reply, recording stamps as they arrive."""

    def __init__(self, result: StreamResult, request: bytes, done: asyncio.Future) -> None:
        self.result = result
        self.request = request
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.headers: dict[str, str] | None = None
        self.decoder: ChunkedDecoder | None = None
        self.body = b""  # a non-streamed (error) body
        self.tail = b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.result.sent_ns = time.monotonic_ns()
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            if self.headers is None:
                self.result.failure = "closed_before_status"
            elif self.result.status != 200:
                self._finish_plain_body()  # a body delimited by the connection closing
                return
            else:
                self.result.failure = "closed_mid_stream"
            self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        if self.decoder is not None:
            self._feed_body(data, now)
        elif self.headers is not None:
            self.body += data
            self._maybe_end_plain_body()
        else:
            self._feed_head(data, now)

    def _feed_head(self, data: bytes, now: int) -> None:
        if not self.head:
            self.result.status_ns = now
        self.head += data
        try:
            parsed = split_head(self.head)
            if parsed is None:
                return
            status_line, self.headers, rest = parsed
            self.result.status = status_code(status_line)
        except ProtocolError:
            self._fail("bad_response")
            return
        self.result.retry_after = self.headers.get("retry-after")
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self.decoder = ChunkedDecoder()
            self._feed_body(rest, now)
        else:
            self.body = rest
            self._maybe_end_plain_body()

    def _feed_body(self, data: bytes, now: int) -> None:
        try:
            payload = self.decoder.feed(data)
        except ProtocolError:
            self._fail("bad_chunking")
            return
        if self.result.status == 200:
            self._scan(payload, now)
        else:
            self.body += payload  # a chunked error body: kept whole, read at the end
        if self.decoder.done:
            if self.result.status == 200:
                self._end()
            else:
                self._finish_plain_body()

    def _scan(self, payload: bytes, now: int) -> None:
        if not payload:
            return
        buf = self.tail + payload if self.tail else payload
        result = self.result
        last_end = 0
        for match in _SCAN.finditer(buf):
            kind = match.group(1)
            if kind is not None:
                emitted = int(match.group(2))
                result.delays_ns.append(now - emitted)
                result.emitted_ns.append(emitted)
                if kind == b"t":
                    result.chunks += 1
                    if not result.first_chunk_ns:
                        result.first_chunk_ns = now
            elif match.group(0)[1] == ord("f"):
                result.finish_seen = True
            else:
                result.error_lines += 1
            last_end = match.end()
        self.tail = buf[max(last_end, len(buf) - _TAIL) :]

    def _maybe_end_plain_body(self) -> None:
        length = self.headers.get("content-length")
        if length is not None and len(self.body) >= int(length):
            self._finish_plain_body()

    def _finish_plain_body(self) -> None:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self.result.error_code = json.loads(self.body)["error"]["code"]
        self._end()

    def _fail(self, reason: str) -> None:
        self.result.failure = reason
        self._end()

    def _end(self) -> None:
        if self.decoder is not None and self.decoder.done:
            self.result.terminated = True
        if not self.done.done():
            self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()


def chat_request(
    port: int,
    path: str = "/api/chat",
    body: bytes = CHAT_BODY,
    headers: dict[str, str] | None = None,
) -> bytes:
    """The raw POST each stream sends, with ``headers`` added (an API token, say)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nAccept: application/x-ndjson\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _one_stream(
    port: int, result: StreamResult, request: bytes, protocols: list[_StreamClient]
) -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    try:
        _, protocol = await loop.create_connection(
            lambda: _StreamClient(result, request, done), "127.0.0.1", port
        )
    except OSError as error:
        result.failure = f"connect_error:{type(error).__name__}"
        return
    protocols.append(protocol)
    await done


async def run_streams(
    port: int,
    n: int,
    ramp_s: float,
    time_limit_s: float,
    headers: dict[str, str] | None = None,
    body: bytes = CHAT_BODY,
) -> tuple[list[StreamResult], float]:
    """Open ``n`` streams to 127.0.0.1:``port``, started evenly over ``ramp_s`` seconds.

    Waits until every stream has ended or ``time_limit_s`` has passed; streams still open
    then are closed and marked ``timeout``. Returns the results and the wall time taken.
    """
    loop = asyncio.get_running_loop()
    request = chat_request(port, body=body, headers=headers)
    results = [StreamResult(i) for i in range(n)]
    protocols: list[_StreamClient] = []
    tasks: list[asyncio.Task] = []
    start = loop.time()
    deadline = start + time_limit_s

    async def launch() -> None:
        for i, result in enumerate(results):
            at = start + (ramp_s * i / n if n > 1 else 0.0)
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one_stream(port, result, request, protocols)))

    launcher = asyncio.create_task(launch())
    try:
        await asyncio.wait_for(launcher, timeout=max(0.0, deadline - loop.time()))
        if tasks:
            await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
    except TimeoutError:
        pass
    finally:
        launcher.cancel()
        # Streams still open are marked before any task is cancelled: cancelling a task
        # would cancel the future it waits on and hide that the stream timed out.
        for protocol in protocols:
            if not protocol.done.done():
                protocol.result.failure = "timeout"
                protocol.done.set_result(None)
            if protocol.transport is not None:
                protocol.transport.close()
        for task in tasks:
            if not task.done():
                task.cancel()  # still connecting
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if result.sent_ns == 0 and result.failure is None:
            result.failure = "timeout"  # the time limit passed before it connected
    return results, loop.time() - start
