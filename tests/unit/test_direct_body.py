"""The relay's fast read path (streamchat.relay.direct_body): when it is taken, that it reads
exactly what the public path would, and that it falls back when it must.

A raw socket server on 127.0.0.1 (tests.support.raw_server) writes scripted bytes, so
framing, timing and how the connection ends are all under the test's control. These run
in plain threads; the TLS case and the same code under gevent are in
tests/server/test_direct_body.py, and every test that goes through gunicorn runs it too.
"""

from __future__ import annotations

import gzip
import json
import socket
import time

import h11
import httpx2
import openai
import pytest

from streamchat.relay import direct_body, socket_reads
from streamchat.relay.ndjson import ndjson_lines
from streamchat.relay.protocols import ChatProtocol
from streamchat.upstream.refusals import UpstreamRefused
from tests.support.environment import TEST_API_KEY
from tests.support.payloads import numbered_chunk, sse_body
from tests.support.raw_server import (
    HEADERS_CHUNKED,
    RawServer,
    SeamReading,
    chunk,
    client_for,
    open_test_stream,
)


def read_all(stream: SeamReading, beat: float = 5.0, limit: float = 10.0) -> list:
    return list(stream.body(beat, limit))


def test_chunked_body_is_read_directly_byte_for_byte():
    events = sse_body([numbered_chunk(0), numbered_chunk(1), numbered_chunk(2, finish=True)])
    first, rest = events[:50], events[50:]
    # The first body bytes come in the same packet as the headers (h11 has buffered
    # them before the takeover), the next chunk arrives split, with a pause between.
    server = RawServer(
        [
            [
                HEADERS_CHUNKED + chunk(first),
                0.05,
                chunk(rest[:30])[:20],
                0.05,
                chunk(rest[:30])[20:],
                chunk(rest[30:]),
                b"0\r\n\r\n",
            ]
        ]
    )
    client = client_for(server)  # kept: a collected client closes its pool
    stream = open_test_stream(client)
    pieces = read_all(stream)
    assert stream.direct is True
    assert None not in pieces
    assert b"".join(pieces) == events
    assert len(pieces) >= 3  # delivered as it came, not gathered at the end


@pytest.mark.parametrize(
    "framing",
    ["content-length", "close-delimited"],
)
def test_other_framings_are_read_whole(framing):
    events = sse_body([numbered_chunk(0), numbered_chunk(1, finish=True)])
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    if framing == "content-length":
        head += b"content-length: %d\r\n" % len(events)
    else:
        head += b"connection: close\r\n"
    server = RawServer([[head + b"\r\n", 0.02, events[:40], 0.02, events[40:], None]])
    client = client_for(server)  # kept: a collected client closes its pool
    stream = open_test_stream(client)
    pieces = read_all(stream)
    assert stream.direct is True
    assert b"".join(pieces) == events
    lines = b"".join(ndjson_lines(iter(pieces), ChatProtocol())).splitlines()
    assert lines == [numbered_chunk(0), numbered_chunk(1, finish=True)]


def test_silence_gives_heartbeats_then_a_read_timeout():
    server = RawServer([[HEADERS_CHUNKED + chunk(sse_body([numbered_chunk(0)], done=False)), 5.0]])
    client = client_for(server)  # kept: a collected client closes its pool
    stream = open_test_stream(client)
    started = time.monotonic()
    seen = []
    with pytest.raises(socket_reads.UpstreamReadTimeout):
        for piece in stream.body(0.2, 0.7):
            seen.append((piece, round(time.monotonic() - started, 2)))
    elapsed = time.monotonic() - started
    stream.close()
    assert stream.direct is True
    assert seen[0][0] == sse_body([numbered_chunk(0)], done=False)
    beats = [at for piece, at in seen if piece is None]
    assert len(beats) == 3, seen  # at ~0.2, 0.4, 0.6 s; the timeout at ~0.7 s
    assert 0.15 <= beats[0] <= 0.5
    assert 0.6 <= elapsed <= 2.0


EVENTS = sse_body([numbered_chunk(0), numbered_chunk(1, finish=True)])
WHOLE = chunk(EVENTS[:40]) + chunk(EVENTS[40:]) + b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("writes", "connections"),
    [
        ([HEADERS_CHUNKED + WHOLE], 1),  # the whole body came with the headers
        ([HEADERS_CHUNKED, 0.05, WHOLE], 1),  # the body came after them
        ([HEADERS_CHUNKED + WHOLE[:20], 0.05, WHOLE[20:]], 2),  # early bytes end mid-chunk
    ],
    ids=["with-headers", "after-headers", "split-mid-chunk"],
)
def test_a_body_read_to_its_end_leaves_the_connection_reusable(writes, connections):
    server = RawServer(*([[writes, writes]] if connections == 1 else [[writes], [writes]]))
    client = client_for(server)
    for _ in range(2):
        stream = open_test_stream(client)
        assert b"".join(read_all(stream)) == EVENTS
        assert stream.direct is True
        stream.close()
    assert server.requests == 2
    # 1: the pool reused the connection, so h11 was brought to the message's end.
    # 2: h11 could not be (it would have to resume mid-chunk): closed, not misused.
    assert server.connections == connections


def test_closing_mid_body_closes_the_connection():
    server = RawServer([[HEADERS_CHUNKED + chunk(sse_body([numbered_chunk(0)], done=False)), 5.0]])
    client = client_for(server)  # kept: a collected client closes its pool
    stream = open_test_stream(client)
    body = stream.body(5.0, 10.0)
    assert next(body) is not None
    body.close()
    stream.close()
    assert server.peer_closed.wait(2), "the half-read connection was kept open"


def test_a_body_cut_mid_chunk_is_an_error_the_relay_reports():
    events = sse_body([numbered_chunk(0)], done=False)
    server = RawServer([[HEADERS_CHUNKED + chunk(events) + b"200\r\n" + b"data: {", None]])
    client = client_for(server)  # kept: a collected client closes its pool
    stream = open_test_stream(client)
    lines = b"".join(ndjson_lines(stream.body(5.0, 10.0), ChatProtocol())).splitlines()
    assert stream.direct is True
    assert lines[0] == numbered_chunk(0)
    assert json.loads(lines[-1])["error"]["code"] == "upstream_disconnected"


def test_an_encoded_body_is_refused_before_the_stream_starts():
    events = sse_body([numbered_chunk(0, finish=True)])
    packed = gzip.compress(events)
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: gzip\r\n"
        b"content-length: %d\r\n\r\n" % len(packed)
    )
    server = RawServer([[head + packed]])
    client = client_for(server)  # kept: a collected client closes its pool
    # Inflating it could turn a few KB into hundreds of MB: refused, never decoded.
    with pytest.raises(UpstreamRefused) as refused:
        open_test_stream(client)
    assert refused.value.kind == "bad_response"


def test_an_in_process_transport_takes_the_public_path():
    events = sse_body([numbered_chunk(0, finish=True)])
    transport = httpx2.MockTransport(
        lambda request: httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=events
        )
    )
    client = openai.OpenAI(
        api_key=TEST_API_KEY,
        base_url="http://127.0.0.1:9/v1",
        http_client=httpx2.Client(transport=transport),
    )
    stream = open_test_stream(client)
    assert b"".join(p for p in read_all(stream) if p) == events
    assert stream.direct is False


def test_when_the_libraries_change_shape_the_public_path_still_serves(monkeypatch):
    # What an upgrade that renames a private class looks like from here.
    monkeypatch.setattr(direct_body, "PoolByteStream", type("Renamed", (), {}))
    events = sse_body([numbered_chunk(0, finish=True)])
    server = RawServer([[HEADERS_CHUNKED + chunk(events) + b"0\r\n\r\n"]])
    client = client_for(server)  # kept: a collected client closes its pool
    stream = open_test_stream(client)
    assert b"".join(p for p in read_all(stream) if p) == events
    assert stream.direct is False


def test_the_fast_path_is_taken_with_the_pinned_libraries():
    """If this fails after an upgrade, the app still works (fallback), only slower:
    update streamchat.relay.direct_body for the new httpx2/httpcore2 layout."""
    server = RawServer(
        [[HEADERS_CHUNKED + chunk(sse_body([numbered_chunk(0, finish=True)])) + b"0\r\n\r\n"]]
    )
    client = client_for(server)  # kept: a collected client closes its pool
    stream = open_test_stream(client)
    found = direct_body._parser_and_socket(stream._response)
    stream.close()
    assert found is not None
    parser, sock = found
    assert isinstance(parser, h11.Connection) and isinstance(sock, socket.socket)
