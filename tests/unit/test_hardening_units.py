"""Hardening, unit by unit: errors told by meaning not bytes, bounded events, the IPv6
rate-limit key, a trusted X-Forwarded-Host only when asked, a stream that opens after
the shutdown drain, and a fallback reader that waits for a slow client."""

from __future__ import annotations

import itertools
import json
import time

import httpx2
import pytest

from streamchat.relay.fallback import MAX_QUEUED_CHUNKS, with_heartbeats
from streamchat.relay.ndjson import ndjson_lines
from streamchat.relay.protocols import ChatProtocol, ResponsesProtocol
from streamchat.worker.open_streams import OpenStreams
from tests.support.payloads import CHAT, sse_body

LEAK = "sk-unit-LEAK"


def relayed(events: list[bytes], protocol, **options) -> list[dict]:
    return [
        json.loads(line)
        for line in b"".join(
            ndjson_lines([sse_body(events, done=False)], protocol, **options)
        ).splitlines()
        if line
    ]


FIRST = b'{"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"}}]}'


@pytest.mark.parametrize(
    "hidden",
    [
        b'{"\\u0065rror":{"message":"' + LEAK.encode() + b'"}}',
        b'{"\\u0065rror" : {"message":"' + LEAK.encode() + b'"}, "id": "c1"}',
        b'{"object":"\\u0065rror","message":"' + LEAK.encode() + b'"}',
        b'{"id":"c1","type":"\\u0065rror","message":"' + LEAK.encode() + b'"}',
    ],
)
def test_a_chat_error_hidden_by_escapes_is_replaced(hidden):
    lines = relayed([FIRST, hidden], ChatProtocol())
    assert LEAK not in json.dumps(lines)
    assert lines[-1]["error"]["code"] == "upstream_error"


@pytest.mark.parametrize(
    "hidden",
    [
        b'{"pad":"' + b"p" * 200 + b'","type":"error","message":"' + LEAK.encode() + b'"}',
        b'{"item":{"type":"message"},"type":"response.failed","message":"' + LEAK.encode() + b'"}',
        b'{"\\u0074ype":"error","message":"' + LEAK.encode() + b'"}',
        b'{"type":"response.output_text.delta","error":{"message":"' + LEAK.encode() + b'"}}',
    ],
)
def test_a_responses_error_late_or_escaped_is_replaced(hidden):
    first = b'{"type":"response.created","sequence_number":0,"response":{"id":"r"}}'
    lines = relayed([first, hidden], ResponsesProtocol())
    assert LEAK not in json.dumps(lines)
    assert lines[-1]["type"] == "error" and lines[-1]["code"] == "upstream_error"


def test_ordinary_chunks_pass_byte_for_byte_with_escapes_in_their_text():
    escaped = b'{"id":"c1","choices":[{"index":0,"delta":{"content":"caf\\u00e9 error"}}]}'
    out = b"".join(ndjson_lines([sse_body([FIRST, escaped])], ChatProtocol()))
    assert out == FIRST + b"\n" + escaped + b"\n"


@pytest.mark.parametrize(
    "source",
    [
        # one line that never ends, read by read
        [b'data: {"x":"'] + [b"x" * 65536] * 40,
        # data lines without the blank line that ends the event
        [b'data: {"y":1}\n' * 4096] * 40,
    ],
)
def test_an_event_past_the_bound_ends_the_stream_with_malformed(source):
    reads = 0

    def counted():
        nonlocal reads
        for piece in source:
            reads += 1
            yield piece

    out = b"".join(ndjson_lines(counted(), ChatProtocol(), max_event_bytes=1 << 20))
    line = json.loads(out.splitlines()[-1])
    assert line["error"]["code"] == "upstream_malformed"
    assert reads < len(source)  # it stopped reading at the bound


def test_a_long_line_costs_one_join_not_one_copy_per_read():
    # 30 MB in 64 KiB reads: quadratic copying would take many seconds here.
    pieces = [b'data: {"x":"'] + [b"x" * 65536] * 480 + [b'"}\n\n']
    started = time.perf_counter()
    out = b"".join(ndjson_lines(pieces, ChatProtocol(), max_event_bytes=64 << 20))
    assert time.perf_counter() - started < 2.0
    assert len(out) > 30_000_000


def test_ipv6_clients_share_their_slash_64s_rate_limit(make_app):
    app = make_app(OPENAI_API_KEY="", DEMO_TOKENS_PER_SECOND="5000", RATE_LIMIT="2/minute")
    client = app.test_client()
    statuses = [
        client.post(
            "/api/chat", json=CHAT, environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{i}"}
        ).status_code
        for i in range(1, 4)
    ]
    other = client.post("/api/chat", json=CHAT, environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert statuses == [200, 200, 429]
    assert other.status_code == 200


def test_ipv4_clients_seen_as_mapped_ipv6_are_counted_each_on_their_own(make_app):
    # Listening on both families (HOST=::), IPv4 peers arrive as ::ffff:a.b.c.d; their
    # /64 is ::/64, which would put every IPv4 client in one bucket.
    app = make_app(OPENAI_API_KEY="", DEMO_TOKENS_PER_SECOND="5000", RATE_LIMIT="2/minute")
    client = app.test_client()

    def status(address):
        response = client.post("/api/chat", json=CHAT, environ_base={"REMOTE_ADDR": address})
        response.get_data()
        return response.status_code

    assert [status("::ffff:192.0.2.1") for _ in range(3)] == [200, 200, 429]
    assert status("::ffff:192.0.2.2") == 200
    assert status("192.0.2.1") == 429  # the same client, however its address is written


def test_x_forwarded_host_is_ignored_unless_trusted(make_app):
    forged = {"Origin": "http://evil.example", "X-Forwarded-Host": "evil.example"}
    app = make_app(OPENAI_API_KEY="", TRUSTED_PROXY_COUNT="1")
    assert app.test_client().post("/api/chat", json=CHAT, headers=forged).status_code == 403
    trusting = make_app(OPENAI_API_KEY="", TRUSTED_PROXY_COUNT="1", TRUSTED_PROXY_HOST="true")
    response = trusting.test_client().post("/api/chat", json=CHAT, headers=forged)
    assert response.status_code == 200


def test_the_upstream_is_asked_for_an_unencoded_body(make_app):
    events = sse_body([FIRST])

    def upstream(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events)

    app = make_app(upstream)
    assert app.test_client().post("/api/chat", json=CHAT).status_code == 200
    assert app.transport.requests[0].headers["accept-encoding"] == "identity"


class _Stream:
    def __init__(self) -> None:
        self.ended = False

    def end_for_shutdown(self) -> None:
        self.ended = True


def test_a_stream_that_opens_after_the_drain_ended_the_others_is_ended_too():
    streams = OpenStreams()
    early, late = _Stream(), _Stream()
    assert streams.reserve(10) and streams.reserve(10)
    streams.add(early)
    assert streams.end_all() == 1
    streams.add(late)  # its upstream opened only now
    assert early.ended and late.ended


def test_the_fallback_reader_waits_for_a_slow_client():
    pulled = 0

    def fast_upstream():
        nonlocal pulled
        for _ in itertools.count():
            pulled += 1
            yield b"x" * 1024

    reader = with_heartbeats(fast_upstream(), 60.0)
    next(reader)
    time.sleep(0.5)  # the client reads nothing meanwhile
    assert pulled <= MAX_QUEUED_CHUNKS + 3
    reader.close()
