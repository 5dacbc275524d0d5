"""The relay generator on plain data: SSE bytes in, NDJSON lines out."""

from __future__ import annotations

import json
import re

import httpx2
import pytest

from streamchat.relay.ndjson import ndjson_lines
from streamchat.relay.protocols import ChatProtocol
from tests.support.payloads import chunk_payload, reply_payloads, sse_body

PAYLOADS = reply_payloads("chatcmpl-1", ["Hel", "lo", " wörld ✓"])


def run(source) -> bytes:
    return b"".join(ndjson_lines(source, ChatProtocol()))


def lines(output: bytes) -> list[bytes]:
    return output.split(b"\n")[:-1]


def test_each_data_payload_becomes_one_line_byte_for_byte():
    output = run([sse_body(PAYLOADS)])
    assert output == b"".join(p + b"\n" for p in PAYLOADS)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_payloads_split_anywhere_across_reads_come_out_whole(size):
    body = sse_body(PAYLOADS)
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    assert run(pieces) == b"".join(p + b"\n" for p in PAYLOADS)


def test_crlf_line_endings_comments_and_other_fields_are_handled():
    body = b": keep-alive\r\n\r\nid: 1\r\nevent: message\r\ndata: " + PAYLOADS[0] + b"\r\n\r\n"
    body += b"data:" + PAYLOADS[-1] + b"\r\n\r\ndata: [DONE]\r\n\r\n"
    assert run([body]) == PAYLOADS[0] + b"\n" + PAYLOADS[-1] + b"\n"


def test_done_is_not_forwarded_and_ends_the_stream():
    after_done = b"data: " + chunk_payload("x", "never") + b"\n\n"
    output = run([sse_body(PAYLOADS) + after_done])
    assert b"[DONE]" not in output
    assert b"never" not in output


def test_one_read_with_several_events_goes_out_as_one_write():
    writes = list(ndjson_lines([sse_body(PAYLOADS)], ChatProtocol()))
    assert len(writes) == 1


def test_silence_becomes_a_blank_heartbeat_line_in_place():
    body = sse_body(PAYLOADS)
    writes = list(ndjson_lines([None, body[:10], None, body[10:]], ChatProtocol()))
    assert writes[0] == b"\n"
    assert writes[1] == b"\n"  # the first read held no whole event yet
    assert b"".join(writes[2:]) == b"".join(p + b"\n" for p in PAYLOADS)


def test_multiline_data_field_is_joined_onto_one_line():
    body = b'data: {"id":"m1","object":"chat.completion.chunk",\ndata: "choices":[]}\n\n'
    body += sse_body([chunk_payload("m1", None, "stop")])
    first = lines(run([body]))[0]
    assert json.loads(first) == {"id": "m1", "object": "chat.completion.chunk", "choices": []}


def _error_of(line: bytes) -> dict:
    parsed = json.loads(line)
    assert parsed["object"] == "chat.completion.chunk"
    assert parsed["choices"] == []
    return parsed


def test_in_band_error_event_ends_with_error_line_and_hides_upstream_text():
    error = b'{"error":{"message":"Incorrect API key provided: sk-abc***xyz","type":"x"}}'
    output = run(
        [sse_body(PAYLOADS[:1], done=False) + b"data: " + error + b"\n\n" + sse_body(PAYLOADS[1:])]
    )
    out = lines(output)
    assert out[0] == PAYLOADS[0]
    assert len(out) == 2
    last = _error_of(out[-1])
    assert last["id"] == "chatcmpl-1"
    assert last["error"]["code"] == "upstream_error"
    assert b"sk-abc" not in output


@pytest.mark.parametrize(
    "error",
    [
        b'{"object":"error","message":"sk-abc leaked","type":"BadRequestError","code":400}',
        b'{"type":"error","code":"x","message":"sk-abc leaked","sequence_number":3}',
    ],
)
def test_other_error_shapes_end_with_error_line(error):
    output = run([sse_body(PAYLOADS[:1], done=False) + b"data: " + error + b"\n\n"])
    out = lines(output)
    assert out[0] == PAYLOADS[0]
    assert _error_of(out[1])["error"]["code"] == "upstream_error"
    assert b"sk-abc" not in output


def test_sse_error_event_name_ends_with_error_line():
    output = run([b'event: error\ndata: {"message":"boom"}\n\n'])
    assert _error_of(lines(output)[-1])["error"]["code"] == "upstream_error"
    assert b"boom" not in output


def test_malformed_payload_ends_with_error_line():
    output = run([sse_body(PAYLOADS[:1], done=False) + b"data: {not json\n\n"])
    out = lines(output)
    assert out[0] == PAYLOADS[0]
    assert _error_of(out[1])["error"]["code"] == "upstream_malformed"


def test_body_ending_without_done_or_finish_reason_is_cut_off():
    output = run([sse_body(PAYLOADS[:2], done=False)])
    out = lines(output)
    assert out[:2] == PAYLOADS[:2]
    assert _error_of(out[2])["error"]["code"] == "upstream_cut_off"


def test_body_ending_after_finish_reason_without_done_is_complete():
    assert run([sse_body(PAYLOADS, done=False)]) == b"".join(p + b"\n" for p in PAYLOADS)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (httpx2.ReadTimeout("slow"), "upstream_timeout"),
        (httpx2.RemoteProtocolError("peer closed"), "upstream_disconnected"),
        (ConnectionResetError("reset"), "upstream_disconnected"),
    ],
)
def test_read_failure_after_start_ends_with_error_line(exc, code):
    def source():
        yield sse_body(PAYLOADS[:1], done=False)
        raise exc

    out = lines(run(source()))
    assert out[0] == PAYLOADS[0]
    error = _error_of(out[1])
    assert error["id"] == "chatcmpl-1"
    assert error["error"]["code"] == code


def test_closing_the_relay_closes_its_source():
    closed = []

    def source():
        try:
            yield sse_body(PAYLOADS[:1], done=False)
            yield sse_body(PAYLOADS[1:2], done=False)
        finally:
            closed.append(True)

    lines_out = ndjson_lines(source(), ChatProtocol())
    next(lines_out)
    lines_out.close()
    assert closed == [True]


@pytest.mark.parametrize(
    "events",
    [
        [b'data: {"id":"a","choices":[]}\n\n', b'data: {"id":"a","choices":[]}\n\n'],
        [b'data: {"id":"a","choices":[]}\r\n\r\n'],  # CRLF framing: the general path
        [b'data: {"id":"a","choices":[]}\r\n\n'],
        [b"event: error\n", b'data: {"id":"a"}\n\n'],  # the event name still counts
        [b'data: {"error":{"message":"key sk-..."}}\n\n'],  # replaced, never passed on
        [b"data: not json\n\n"],
        [b'data: {"id":"a","choices":[{"finish_reason":"stop"}]}\n\n', b"data: [DONE]\n\n"],
        [b"data: [DONE]\n\n"],
    ],
)
def test_one_event_per_read_gives_what_the_general_path_gives(events):
    # The relay has a fast path for a read that is exactly one event; the same bytes
    # delivered one at a time always take the general path.
    whole = b"".join(ndjson_lines(iter(events), ChatProtocol()))
    byte_by_byte = b"".join(
        ndjson_lines(iter([b[i : i + 1] for b in events for i in range(len(b))]), ChatProtocol())
    )
    random_id = re.compile(rb"chatcmpl-streamchat-[0-9a-f]{32}")  # error lines' own ids
    assert random_id.sub(b"ID", whole) == random_id.sub(b"ID", byte_by_byte)
    assert b"sk-" not in whole
