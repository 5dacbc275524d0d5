"""The real server (gunicorn + gevent worker, as the Procfile runs it) against a real
OpenAI-compatible fake upstream over TCP, both on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time

import httpx2
import pytest

from tests.support.environment import TEST_API_KEY
from tests.support.fake_upstream import Script
from tests.support.launch import start_flask_run, start_gunicorn, upstream_settings
from tests.support.payloads import CHAT, reply_payloads
from tests.support.waiting import run_threads, wait_for


def stream(url: str, body=CHAT, close_after: int | None = None):
    """POST and read the reply line by line; returns (lines, arrival times, status)."""
    lines, times = [], []
    start = time.monotonic()
    with httpx2.Client(timeout=30) as http, http.stream("POST", url + "/api/chat", json=body) as r:
        for line in r.iter_lines():
            lines.append(line)
            times.append(time.monotonic() - start)
            if close_after is not None and len([x for x in lines if x]) >= close_after:
                break
        return lines, times, r


def test_lines_equal_upstream_data_payloads_byte_for_byte(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-int", ["Grüße", ", ", "世界", " 🌍", "!"])
    fake_upstream.script = Script(payloads=payloads, interval=0.01)
    with httpx2.Client(timeout=30) as http:
        response = http.post(live_server.url + "/api/chat", json=CHAT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in response.headers
    assert response.content == b"".join(p + b"\n" for p in payloads)
    sent = fake_upstream.records[-1].request
    assert sent["_headers"]["authorization"] == f"Bearer {TEST_API_KEY}"
    assert sent["messages"][0]["role"] == "system"


def test_first_line_arrives_before_the_upstream_finishes(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-early", ["first", " second", " third"])
    fake_upstream.script = Script(payloads=payloads, pauses={2: 1.5})
    start = time.monotonic()
    lines, times, _ = stream(live_server.url)
    data_times = [t for line, t in zip(lines, times, strict=True) if line]
    record = fake_upstream.records[-1]
    data = [json.loads(x)["choices"][0]["delta"] for x in lines if x]
    assert data[1]["content"] == "first" and data[2]["content"] == " second"
    # The first line came at once, and well before the upstream's last write.
    assert data_times[0] < 1.0
    assert start + data_times[0] < record.finished - 1.0
    assert data_times[2] - data_times[1] >= 1.4


def test_heartbeats_fill_upstream_silence_before_the_first_token(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-hb", ["late"])
    fake_upstream.script = Script(payloads=payloads, first_delay=1.6)
    lines, times, _ = stream(live_server.url)
    first_data = next(i for i, line in enumerate(lines) if line)
    # HEARTBEAT_SECONDS=0.5 on this server: ~3 blank lines, then the reply intact.
    assert 2 <= first_data <= 4
    assert all(line == "" for line in lines[:first_data])
    assert times[0] < 1.0
    assert [x for x in lines if x] == [p.decode() for p in payloads]


def test_fifty_concurrent_streams_on_one_worker_all_complete(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-many", [f"w{i} " for i in range(20)])
    fake_upstream.script = Script(payloads=payloads, interval=0.05)  # ~1 s per stream
    expected = b"".join(p + b"\n" for p in payloads)
    before = len(fake_upstream.records)
    results: list[bytes | Exception] = []
    gate = threading.Barrier(50)

    def one():
        try:
            with httpx2.Client(timeout=30) as http:
                gate.wait()
                results.append(http.post(live_server.url + "/api/chat", json=CHAT).content)
        except Exception as exc:
            results.append(exc)

    elapsed = run_threads(one, [()] * 50, 60)
    assert len(results) == 50
    assert [r for r in results if r != expected] == []
    assert len(fake_upstream.records) - before == 50
    # One at a time would take 50 s; concurrently it is about one stream's length.
    assert elapsed < 10, elapsed


def test_client_leaving_mid_stream_closes_the_upstream_within_2s(live_server, fake_upstream):
    payloads = reply_payloads("chatcmpl-leave", [f"t{i} " for i in range(300)])
    fake_upstream.script = Script(payloads=payloads, interval=0.05)  # 15 s if left alone
    stream(live_server.url, close_after=3)
    left = time.monotonic()
    record = fake_upstream.records[-1]
    assert wait_for(lambda: record.peer_closed is not None, 5)
    assert record.peer_closed - left < 2.0
    assert record.finished is None
    assert record.events_sent < 100


def test_upstream_refusal_through_the_real_server_hides_upstream_text(live_server, fake_upstream):
    leak = b'{"error":{"message":"Incorrect API key provided: test-key-***6789"}}'
    fake_upstream.script = Script(status=401, error_body=leak)
    with httpx2.Client(timeout=30) as http:
        response = http.post(live_server.url + "/api/chat", json=CHAT)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_auth"
    assert b"6789" not in response.content


@pytest.fixture(scope="module")
def demo_server():
    server = start_gunicorn(DEMO_TOKENS_PER_SECOND="50")
    yield server
    server.stop()


def test_demo_model_streams_chunks_over_time_through_gunicorn(demo_server, report):
    lines, times, response = stream(demo_server.url)
    chunks = [json.loads(line) for line in lines if line]
    assert response.status_code == 200
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert any(c["choices"] and c["choices"][0]["finish_reason"] == "stop" for c in chunks)
    # Progressive: at 50 tokens/s the reply spreads over seconds, the first line is early.
    assert times[0] < 1.0
    assert times[-1] - times[0] > 1.0
    report(f"demo time to first line: {times[0] * 1000:.0f} ms over {len(chunks)} chunks")


def test_flask_run_serves_the_same_app_with_streaming(fake_upstream):
    server = start_flask_run(**upstream_settings(fake_upstream.base_url, HEARTBEAT_SECONDS="0.4"))
    try:
        payloads = reply_payloads("chatcmpl-flask", ["one", " two"])
        fake_upstream.script = Script(payloads=payloads, first_delay=1.0, pauses={2: 1.0})
        lines, times, _ = stream(server.url)
        data = [(line, t) for line, t in zip(lines, times, strict=True) if line]
        assert [line for line, _ in data] == [p.decode() for p in payloads]
        assert lines[0] == ""  # heartbeat during the first-token delay
        assert data[2][1] - data[1][1] >= 0.9  # each line arrived when it was sent
    finally:
        server.stop()
