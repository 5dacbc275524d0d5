"""Reads a streamed upstream body straight off its socket: the relay's fast path.

Going through ``Response.iter_bytes()`` costs each chunk a trip through httpx2's
decoders and stream wrappers, httpcore2's read loop (exception mapping, a timeout set
per read) and a hand-over from a reader greenlet to the relay. For a token stream that
is most of the relay's CPU. Here the relay's own greenlet reads the connection's socket
and undoes the body framing with streamchat.relay.body_framing. When a chunked body has been
read to its clean end, the connection's h11 parser is told so (as an empty chunked
body), which leaves the connection in the state httpcore2 expects: reusable by the pool.

This is the one place that knows httpx2's and httpcore2's private structure (and, for
the wait before each read, a gevent socket's own read watcher). It checks every step
and, when something differs (a library upgrade, HTTP/2, a proxy tunnel, an
encoded body, the demo's in-process transport), returns None; the caller then falls back
to the public ``iter_bytes()`` path. tests/test_direct_body.py pins which case is which.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import h11

from .body_framing import Chunked, framing_for

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
    UpstreamReadTimeout; a broken connection or body raises OSError (BrokenFraming is
    one). Closing ``http_response`` from elsewhere (another greenlet) makes the read in
    progress fail, which is how a stream is stopped.
    """
    found = _parser_and_socket(http_response)
    if found is None:
        return None
    parser, sock = found
    framing = framing_for(http_response.headers)
    # Body bytes that came with the headers sit unparsed in h11's buffer.
    early = parser.trailing_data[0]
    read = _read_under_gevent if _is_gevent_socket(sock) else _read_with_socket_timeout
    return _body(parser, framing, early, read(sock, heartbeat_seconds, read_timeout_seconds))


def _body(parser: h11.Connection, framing, early: bytes, reads) -> Iterator[bytes | None]:
    feed = framing.feed
    done_early = False
    if early:
        body = feed(early)
        if body:
            yield body
        done_early = framing.done
    # Whether h11 can be brought up to date at the end (see _hand_back).
    reusable = type(framing) is Chunked and (done_early or framing.between_chunks)
    try:
        if not framing.done:
            for data in reads:
                if data is None:
                    yield None
                    continue
                if not data:
                    framing.end_of_input()
                    return
                body = feed(data)
                if body:
                    yield body
                if framing.done:
                    break
    finally:
        reads.close()  # now, not when collected: under gevent it holds a timer
    if reusable and not framing.extra:
        _hand_back(parser, feed_end=not done_early)


def _hand_back(parser: h11.Connection, feed_end: bool) -> None:
    """Bring h11 to the end of the message, so the pool may reuse the connection.

    h11 still holds, unparsed, the body bytes that came with the headers; they end at a
    chunk boundary (the caller checked). Parsing them and then an empty last chunk moves
    its state on exactly as parsing the whole body would have. If the whole body came
    with the headers, h11 has it all already and only parses it.
    """
    try:
        if feed_end:
            parser.receive_data(b"0\r\n\r\n")
        for _ in range(1000):
            event = parser.next_event()
            if type(event) is not h11.Data:
                break
    except h11.RemoteProtocolError:
        pass  # then httpcore2 closes the connection instead: correct, only slower


def _is_gevent_socket(sock: socket.socket) -> bool:
    return type(sock).__module__.startswith("gevent.")


def _read_with_socket_timeout(
    sock: socket.socket, beat: float, limit: float
) -> Iterator[bytes | None]:
    """Threads (``flask run``): a socket timeout is what makes heartbeats. Yields what
    each read returned (b"" at the end) or None for a heartbeat."""
    recv = sock.recv
    silent = 0.0
    wait = min(beat, limit)
    sock.settimeout(wait)
    while True:
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
        yield data
        if not data:
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
            error: Exception | None = UpstreamReadTimeout("the upstream sent nothing in time")
            self._arm(self._beat)
        elif since_beat >= self._beat - 0.001:
            error = _HeartbeatDue()
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


def _wait_then_recv(sock: socket.socket):
    """gevent's recv, preceded by a wait until the socket is readable, when this gevent
    socket lets us wait on its own read watcher; else gevent's plain recv.

    gevent's recv tries the socket first, gets EAGAIN, waits and tries again. On a token
    stream the first try fails nearly every time (the next chunk is milliseconds away):
    a syscall and an exception per chunk, ~3 us of ~14 per read (bench/micro.py).
    Waiting on the socket's own watcher keeps gevent's behaviour on close: closing the
    socket from another greenlet (Stop, shutdown) fails the wait at once.
    """
    recv = sock.recv
    wait = getattr(sock, "_wait", None)
    if not callable(wait) or not hasattr(sock, "_read_event"):
        return recv
    # TLS: bytes already decrypted and buffered make the socket look idle; never wait
    # while there are any.
    pending = getattr(sock, "pending", None)

    def wait_then_recv(size: int) -> bytes:
        event = sock._read_event  # None once closed: then recv raises EBADF itself
        if event is not None and not (pending is not None and pending()):
            wait(event)
        return recv(size)

    return wait_then_recv


def _read_under_gevent(sock: socket.socket, beat: float, limit: float) -> Iterator[bytes | None]:
    """gevent: reads without a timeout, heartbeats from a _SilenceWatch. Yields what each
    read returned (b"" at the end) or None for a heartbeat."""
    recv, clock = _wait_then_recv(sock), time.monotonic
    sock.settimeout(None)
    watch = _SilenceWatch(beat, limit)
    try:
        while True:
            watch.in_recv = True
            try:
                data = recv(READ_SIZE)
            except _HeartbeatDue:
                # Out of recv before yielding: the heartbeat's write may block too, and
                # must not be interrupted (finally would only run after the yield).
                watch.in_recv = False
                yield None
                continue
            finally:
                watch.in_recv = False
            watch.last_data = clock()
            yield data
            if not data:
                return
    finally:
        watch.close()
