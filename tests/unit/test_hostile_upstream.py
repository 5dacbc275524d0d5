"""A hostile upstream, on the relay in one process: an error is told by what its JSON
means however it is escaped or wherever it comes, an ordinary chunk with escapes passes
untouched, and an event past MAX_UPSTREAM_EVENT_BYTES ends the stream without reading
on. Against the real server, memory measured: tests/server/test_hostile_upstream.py."""

from __future__ import annotations

import json
import time

import pytest

from streamchat.relay.ndjson import ndjson_lines
from streamchat.relay.protocols import ChatProtocol, ResponsesProtocol
from tests.support.payloads import sse_body

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
