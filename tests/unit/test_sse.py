"""SSE on request, in one process: a failed stream ends with an error event and no
[DONE], and Responses events are named by their type. Through the real server:
tests/server/test_sse.py."""

from __future__ import annotations

import json

import httpx2

from tests.support.payloads import CHAT, reply_payloads, sse_body

SSE = {"Accept": "text/event-stream"}
WORDS = ["Hello", ", ", "wörld", "!"]


def test_a_failed_sse_stream_ends_with_an_error_event_and_no_done(make_app):
    events = sse_body(reply_payloads("chatcmpl-cut", WORDS)[:2], done=False)

    def upstream(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events)

    body = make_app(upstream).test_client().post("/api/chat", json=CHAT, headers=SSE).data
    *_, last = body.decode().strip().split("\n\n")
    number, data = last.split("\n")
    assert number == "id: 3"  # the two chunks, then the error: its place in the run
    assert json.loads(data.removeprefix("data: "))["error"]["code"] == "upstream_cut_off"
    assert b"[DONE]" not in body


def test_responses_over_sse_name_each_event_by_its_type(client):
    response = client.post("/api/responses", json=CHAT, headers=SSE)
    events = response.data.decode().strip().split("\n\n")
    assert response.mimetype == "text/event-stream"
    for number, event in enumerate(events, 1):
        event_id, name, data = event.split("\n")
        assert event_id == f"id: {number}"
        assert name == "event: " + json.loads(data.removeprefix("data: "))["type"]
    assert events[-1].split("\n")[1] == "event: response.completed"
