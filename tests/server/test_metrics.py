"""Prometheus metrics through gunicorn: one scrape counts the streams of every worker,
/metrics answers only its bearer token (else 404), and no label carries content or
identity. Token counts in one process: tests/unit/test_metrics.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import RunningServer, start_gunicorn, start_gunicorn_against
from tests.support.metrics import AUTH, TOKEN, sample
from tests.support.payloads import CHAT, chat_body, reply_payloads

SECRET_WORDS = "my-private-question-42"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.script = Script(
            payloads=reply_payloads("chatcmpl-m", ["a", "b", "c"]), first_delay=0.3
        )
        yield fake


@pytest.fixture(scope="module")
def two_workers(upstream) -> Iterator[RunningServer]:
    server = start_gunicorn_against(
        upstream.base_url, WEB_CONCURRENCY="2", METRICS_TOKEN=TOKEN, OPENAI_STREAM_USAGE="false"
    )
    yield server
    server.stop()


def stream_pids(server: RunningServer) -> set[int]:
    """The workers that logged a finished /api/chat stream."""
    pids = set()
    for line in server.output().splitlines():
        if line.startswith("{") and '"/api/chat"' in line:
            record = json.loads(line)
            if record.get("outcome") == "completed":
                pids.add(record["pid"])
    return pids


def test_each_scrape_counts_the_streams_of_both_workers(two_workers):
    sent = 0
    # Concurrent slow streams spread over both workers; bounded rounds until they have.
    for _ in range(10):
        threads = [
            threading.Thread(
                target=lambda: httpx2.post(
                    two_workers.url + "/api/chat", json=chat_body(SECRET_WORDS), timeout=30
                ).read()
            )
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        sent += len(threads)
        if len(stream_pids(two_workers)) == 2:
            break
    assert len(stream_pids(two_workers)) == 2, "both workers should have served streams"
    completed = 'streamchat_streams_total{outcome="completed",route="/api/chat"}'
    for _ in range(6):  # each scrape lands on either worker: every one sees all streams
        text = httpx2.get(two_workers.url + "/metrics", headers=AUTH).text
        assert sample(text, completed) == sent
        assert sample(text, "streamchat_streams_open") == 0
        assert sample(text, "streamchat_time_to_first_byte_seconds_count") == sent
        assert sample(text, "streamchat_stream_duration_seconds_count") == sent
        assert SECRET_WORDS not in text and "127.0.0.1" not in text and TOKEN not in text


def test_refusals_are_counted_by_code(two_workers):
    url = two_workers.url + "/api/chat"
    before = httpx2.get(two_workers.url + "/metrics", headers=AUTH).text
    httpx2.post(url, json={"messages": []})
    httpx2.post(url, content=b"{}", headers={"Content-Type": "text/plain"})
    after = httpx2.get(two_workers.url + "/metrics", headers=AUTH).text
    for code in ("invalid_messages", "unsupported_media_type"):
        name = f'streamchat_requests_rejected_total{{code="{code}"}}'
        assert sample(after, name) == sample(before, name) + 1


def test_metrics_answer_only_the_token(two_workers):
    url = two_workers.url + "/metrics"
    assert httpx2.get(url).status_code == 404
    assert httpx2.get(url, headers={"Authorization": "Bearer guessed"}).status_code == 404
    assert httpx2.get(url, headers={"Authorization": TOKEN}).status_code == 404
    assert httpx2.get(url, headers=AUTH).status_code == 200


def test_without_a_token_there_is_no_metrics_route():
    server = start_gunicorn(DEMO_TOKENS_PER_SECOND="500")
    try:
        assert httpx2.post(server.url + "/api/chat", json=CHAT, timeout=30).status_code == 200
        assert httpx2.get(server.url + "/metrics", headers=AUTH).status_code == 404
    finally:
        server.stop()
