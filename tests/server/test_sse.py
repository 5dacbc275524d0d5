"""SSE on request: ``Accept: text/event-stream`` gets the same events framed as OpenAI
frames them, so OpenAI's own SSE reader reads /api/chat; NDJSON stays the default."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from tests.support.fake_upstream import Script
from tests.support.payloads import CHAT, reply_payloads, sse_body

SSE = {"Accept": "text/event-stream"}
WORDS = ["Hello", ", ", "wörld", "!"]


@pytest.mark.server
def test_the_sdks_own_sse_reader_reads_api_chat_to_its_finish(live_server, fake_upstream):
    fake_upstream.script = Script(payloads=reply_payloads("chatcmpl-sse", WORDS), interval=0.01)
    # The official Python SDK pointed at our API: its Stream parses the SSE itself.
    client = openai.OpenAI(api_key="unused-by-streamchat", base_url=live_server.url + "/api")
    stream = client.post(
        "/chat",
        body=CHAT,
        cast_to=ChatCompletionChunk,
        options={"headers": SSE},
        stream=True,
        stream_cls=openai.Stream[ChatCompletionChunk],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(WORDS)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert stream.response.headers["content-type"].startswith("text/event-stream")


@pytest.mark.server
def test_sse_events_are_the_upstream_payloads_and_end_with_done(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-sse2", WORDS)
    fake_upstream.script = Script(payloads=payloads, interval=0.01)
    response = httpx2.post(live_server.url + "/api/chat", json=CHAT, headers=SSE, timeout=30)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.content == sse_body(payloads)  # "data: <payload>\n\n"..., "data: [DONE]"


@pytest.mark.server
def test_sse_heartbeats_are_comment_lines(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-sse3", WORDS)
    fake_upstream.script = Script(payloads=payloads, first_delay=1.3)  # heartbeat 0.5 s
    response = httpx2.post(live_server.url + "/api/chat", json=CHAT, headers=SSE, timeout=30)
    body = response.content
    assert body.startswith(b": keep-alive\n\n: keep-alive\n\n")
    assert body.replace(b": keep-alive\n\n", b"") == sse_body(payloads)


@pytest.mark.server
def test_ndjson_stays_the_default_for_any_other_accept(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-nd", WORDS)
    fake_upstream.script = Script(payloads=payloads)
    for accept in (None, "*/*", "application/x-ndjson", "application/json"):
        headers = {"Accept": accept} if accept else {}
        response = httpx2.post(
            live_server.url + "/api/chat", json=CHAT, headers=headers, timeout=30
        )
        assert response.headers["content-type"] == "application/x-ndjson", accept
        assert response.content == b"".join(p + b"\n" for p in payloads), accept


def test_a_failed_sse_stream_ends_with_an_error_event_and_no_done(make_app):
    events = sse_body(reply_payloads("chatcmpl-cut", WORDS)[:2], done=False)

    def upstream(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events)

    body = make_app(upstream).test_client().post("/api/chat", json=CHAT, headers=SSE).data
    *_, last = body.decode().strip().split("\n\n")
    assert last.startswith("data: ")
    assert json.loads(last[6:])["error"]["code"] == "upstream_cut_off"
    assert b"[DONE]" not in body


def test_responses_over_sse_name_each_event_by_its_type(client):
    response = client.post("/api/responses", json=CHAT, headers=SSE)
    events = response.data.decode().strip().split("\n\n")
    assert response.mimetype == "text/event-stream"
    for event in events:
        name, data = event.split("\n")
        assert name == "event: " + json.loads(data.removeprefix("data: "))["type"]
    assert events[-1].startswith("event: response.completed\n")
