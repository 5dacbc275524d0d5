"""Reads a streamed upstream body straight off its socket: the relay's fast path.

Going through ``Response.iter_bytes()`` costs each chunk a trip through httpx2's
decoders and stream wrappers, httpcore2's read loop (exception mapping, a timeout set
per read) and a hand-over from a reader greenlet to the relay. For a token stream that
is most of the relay's CPU. Here the relay's own greenlet reads the connection's socket
and feeds the bytes to the connection's own h11 parser, so HTTP/1.1 framing (chunked,
content-length, close-delimited) is still h11's job and the connection ends in the state
httpcore2 expects: a body read to its end leaves the connection reusable by the pool.

This is the one place that knows httpx2's and httpcore2's private structure. It checks
every step and, when something differs (a library upgrade, HTTP/2, a proxy tunnel, an
encoded body, the demo's in-process transport), returns None; the caller then falls back
to the public ``iter_bytes()`` path. tests/test_direct_body.py pins which case is which.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import h11

try:  # private modules: their absence only means the fallback path
    from httpcore2._backends.sync import SyncStream
    from httpcore2._sync.connection_pool import PoolByteStream
    from httpcore2._sync.http11 import HTTP11ConnectionByteStream
    from httpx2._client import BoundSyncStream
    from httpx2._transports.default import ResponseStream
except ImportError:  # pragma: no cover - depends on the installed versions
    SyncStream = PoolByteStream = HTTP11ConnectionByteStream = None
    BoundSyncStream = ResponseStream = None

READ_SIZE = 65536


class UpstreamReadTimeout(TimeoutError):
    """The upstream sent nothing for the whole read timeout."""


def _parser_and_socket(http_response) -> tuple[h11.Connection, socket.socket] | None:
    """The response's h11 parser and socket, when it is a plain HTTP/1.1 response body
    on a socket this module may read; otherwise None."""
    if SyncStream is None:
        return None
    if http_response.headers.get("content-encoding", "identity").lower() != "identity":
        return None  # httpx2 decodes gzip and friends; leave that to it
    if http_response.is_stream_consumed or http_response.is_closed:
        return None
    network_stream = http_response.extensions.get("network_stream")
    if type(network_stream) is not SyncStream:
        return None  # e.g. TLS inside a proxy's TLS tunnel, or no network at all
    sock = network_stream.get_extra_info("socket")
    stream = http_response.stream
    if type(stream) is not BoundSyncStream:
        return None
    stream = getattr(stream, "_stream", None)
    if type(stream) is not ResponseStream:
        return None
    stream = getattr(stream, "_httpcore_stream", None)
    if type(stream) is not PoolByteStream:
        return None
    stream = getattr(stream, "_stream", None)
    if type(stream) is not HTTP11ConnectionByteStream:
        return None
    connection = getattr(stream, "_connection", None)
    parser = getattr(connection, "_h11_state", None)
    if not isinstance(parser, h11.Connection) or not isinstance(sock, socket.socket):
        return None
    if getattr(connection, "_network_stream", None) is not network_stream:
        return None
    if parser.their_state is not h11.SEND_BODY:
        return None
    return parser, sock


def direct_body(
    http_response, heartbeat_seconds: float, read_timeout_seconds: float
) -> Iterator[bytes | None] | None:
    """An iterator over ``http_response``'s body read straight from its socket, or None
    when this response cannot be read that way (use ``iter_bytes()`` then).

    It yields body bytes as they arrive and ``None`` after each ``heartbeat_seconds``
    without any. After ``read_timeout_seconds`` of silence it raises
    UpstreamReadTimeout; a broken connection raises OSError or h11.RemoteProtocolError.
    Closing ``http_response`` from elsewhere (another greenlet) makes the read in
    progress fail, which is how a stream is stopped.
    """
    found = _parser_and_socket(http_response)
    if found is None:
        return None
    parser, sock = found
    return _read(parser, sock, heartbeat_seconds, read_timeout_seconds)


def _read(
    parser: h11.Connection, sock: socket.socket, beat: float, limit: float
) -> Iterator[bytes | None]:
    if _is_gevent_socket(sock):
        return _read_under_gevent(parser, sock, beat, limit)
    return _read_with_socket_timeout(parser, sock, beat, limit)


def _is_gevent_socket(sock: socket.socket) -> bool:
    return type(sock).__module__.startswith("gevent.")


def _read_with_socket_timeout(
    parser: h11.Connection, sock: socket.socket, beat: float, limit: float
) -> Iterator[bytes | None]:
    """Threads (``flask run``): a socket timeout is what makes heartbeats."""
    data_event, end_event, need_data = h11.Data, h11.EndOfMessage, h11.NEED_DATA
    receive, next_event, recv = parser.receive_data, parser.next_event, sock.recv
    silent = 0.0
    wait = min(beat, limit)
    sock.settimeout(wait)
    while True:
        event = next_event()
        if event is need_data:
            try:
                data = recv(READ_SIZE)
            except TimeoutError:
                silent += wait
                if silent >= limit - 1e-9:  # (float sums: 0.1 * 3 < 0.3)
                    raise UpstreamReadTimeout("the upstream sent nothing in time") from None
                wait = min(beat, limit - silent)
                sock.settimeout(wait)
                yield None
                continue
            if silent:
                silent = 0.0
                wait = min(beat, limit)
                sock.settimeout(wait)
            # b"" is the peer closing: h11 then ends a close-delimited body or raises
            # RemoteProtocolError for a body cut short.
            receive(data)
        elif type(event) is data_event:
            yield bytes(event.data)
        elif type(event) is end_event:
            return
        else:  # ConnectionClosed or PAUSED: nothing more to read for this response
            return


class _HeartbeatDue(Exception):
    """Thrown into a reader blocked in recv when a heartbeat is due."""


class _SilenceWatch:
    """Interrupts a reader that has waited a heartbeat interval, without a timer per read.

    A socket timeout under gevent costs each read a Timeout object and a timer start and
    stop: ~15 us a chunk, as much as the rest of the read. Here the reader only notes
    when data last came; one lazy timer per stream wakes once per interval, re-arms for
    the remainder while data is flowing, and throws into the reader only when it is
    blocked in recv and the interval has passed. gevent's own Timeout works by the
    same throw; a socket closed by another greenlet still fails the read at once.
    """

    def __init__(self, beat: float, limit: float) -> None:
        import gevent

        self._loop = gevent.get_hub().loop
        self._reader = gevent.getcurrent()
        self._beat = beat
        self._limit = limit
        self.last_data = self.last_beat = time.monotonic()
        self.in_recv = False
        self._timer = None
        self._arm(min(beat, limit))

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.close()
        self._timer = self._loop.timer(max(seconds, 0.001))
        self._timer.start(self._due)

    def _due(self) -> None:
        now = time.monotonic()
        silent = now - self.last_data
        since_beat = now - max(self.last_data, self.last_beat)
        if silent >= self._limit - 0.001:
            error: type[Exception] | None = UpstreamReadTimeout
            self._arm(self._beat)
        elif since_beat >= self._beat - 0.001:
            error = _HeartbeatDue
            self.last_beat = now
            self._arm(min(self._beat, self._limit - silent))
        else:
            error = None
            self._arm(min(self._beat - since_beat, self._limit - silent))
        if error is not None and self.in_recv:
            self._reader.throw(error)

    def close(self) -> None:
        """Stop the timer; call when the reader is done."""
        if self._timer is not None:
            self._timer.close()
            self._timer = None


def _read_under_gevent(
    parser: h11.Connection, sock: socket.socket, beat: float, limit: float
) -> Iterator[bytes | None]:
    data_event, end_event, need_data = h11.Data, h11.EndOfMessage, h11.NEED_DATA
    receive, next_event, recv = parser.receive_data, parser.next_event, sock.recv
    clock = time.monotonic
    sock.settimeout(None)
    watch = _SilenceWatch(beat, limit)
    try:
        while True:
            event = next_event()
            if event is need_data:
                watch.in_recv = True
                try:
                    data = recv(READ_SIZE)
                except _HeartbeatDue:
                    watch.in_recv = False
                    yield None
                    continue
                except UpstreamReadTimeout:
                    raise UpstreamReadTimeout("the upstream sent nothing in time") from None
                finally:
                    watch.in_recv = False
                watch.last_data = clock()
                receive(data)
            elif type(event) is data_event:
                yield bytes(event.data)
            elif type(event) is end_event:
                return
            else:
                return
    finally:
        watch.close()
