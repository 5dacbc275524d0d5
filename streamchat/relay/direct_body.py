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
to the public ``iter_bytes()`` path. tests/unit/test_direct_body.py pins which case is which.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import h11

from .body_framing import Chunked, framing_for
from .socket_reads import (
    is_gevent_socket,
    read_under_gevent,
    read_with_socket_timeout,
)
from .write_mark import WriteMark

try:  # private modules: their absence only means the fallback path
    from httpcore2._backends.sync import SyncStream
    from httpcore2._sync.connection_pool import PoolByteStream
    from httpcore2._sync.http11 import HTTP11ConnectionByteStream
    from httpx2._client import BoundSyncStream
    from httpx2._transports.default import ResponseStream
except ImportError:  # pragma: no cover - depends on the installed versions
    SyncStream = PoolByteStream = HTTP11ConnectionByteStream = None
    BoundSyncStream = ResponseStream = None


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
    http_response,
    heartbeat_seconds: float,
    read_timeout_seconds: float,
    mark: WriteMark | None = None,
) -> Iterator[bytes | None] | None:
    """An iterator over ``http_response``'s body read straight from its socket, or None
    when this response cannot be read that way (use ``iter_bytes()`` then).

    It yields body bytes as they arrive and ``None`` whenever ``heartbeat_seconds`` have
    passed since ``mark`` (the last write toward the client; streamchat.relay.write_mark),
    whatever the upstream sends meanwhile. After ``read_timeout_seconds`` of upstream
    silence it raises
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
    read = read_under_gevent if is_gevent_socket(sock) else read_with_socket_timeout
    reads = read(sock, heartbeat_seconds, read_timeout_seconds, mark or WriteMark())
    return _body(parser, framing, early, reads)


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
