"""SSE on request, through the real server: ``Accept: text/event-stream`` gets the same
events framed as OpenAI frames them, so OpenAI's own SSE reader reads /api/chat; NDJSON
stays the default. Error events and Responses event names: tests/unit/test_sse.py."""

from __future__ import annotations

import httpx2
import openai
from openai.types.chat import ChatCompletionChunk

from tests.support.fake_upstream import Script
from tests.support.payloads import CHAT, reply_payloads, sse_body

SSE = {"Accept": "text/event-stream"}
WORDS = ["Hello", ", ", "wörld", "!"]


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


def test_sse_events_are_the_upstream_payloads_and_end_with_done(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-sse2", WORDS)
    fake_upstream.script = Script(payloads=payloads, interval=0.01)
    response = httpx2.post(live_server.url + "/api/chat", json=CHAT, headers=SSE, timeout=30)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.content == sse_body(payloads)  # "data: <payload>\n\n"..., "data: [DONE]"


def test_sse_heartbeats_are_comment_lines(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-sse3", WORDS)
    fake_upstream.script = Script(payloads=payloads, first_delay=1.3)  # heartbeat 0.5 s
    response = httpx2.post(live_server.url + "/api/chat", json=CHAT, headers=SSE, timeout=30)
    body = response.content
    assert body.startswith(b": keep-alive\n\n: keep-alive\n\n")
    assert body.replace(b": keep-alive\n\n", b"") == sse_body(payloads)


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
