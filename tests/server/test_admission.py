"""Admission control (MAX_STREAMS_PER_WORKER) with small numbers, through the real
gunicorn + gevent server. How it behaves at full scale is bench/'s job."""

from __future__ import annotations

import json
import threading
import time

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import CHAT, reply_payloads
from tests.support.waiting import run_threads, wait_for

LIMIT = 3
WORDS = [f"w{i} " for i in range(30)]


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream() as fake:
        fake.script = Script(payloads=reply_payloads("chatcmpl-adm", WORDS), interval=0.05)
        yield fake


@pytest.fixture(scope="module")
def server(upstream):
    server = start_gunicorn_against(
        upstream.base_url,
        MAX_STREAMS_PER_WORKER=str(LIMIT),
        OPENAI_MODELS="refuses",
    )
    yield server
    server.stop()


def stream_whole(url: str, out: list, opened: threading.Event | None = None) -> None:
    with httpx2.Client(timeout=30) as http, http.stream("POST", url, json=CHAT) as r:
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if opened is not None and len(lines) == 1:
                opened.set()
        out.append((r.status_code, lines))


def test_past_the_limit_requests_get_503_at_once_and_admitted_streams_finish(server, upstream):
    url = server.url + "/api/chat"
    before = len(upstream.records)
    admitted: list = []
    readers = []
    for _ in range(LIMIT):
        opened = threading.Event()
        reader = threading.Thread(target=stream_whole, args=(url, admitted, opened))
        reader.start()
        readers.append(reader)
        assert opened.wait(10), "an admitted stream did not start"

    refused = []
    with httpx2.Client(timeout=10) as http:
        for _ in range(4):
            started = time.monotonic()
            response = http.post(url, json=CHAT)
            refused.append((response, time.monotonic() - started))
    for response, took in refused:
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "3"
        assert response.json()["error"]["code"] == "server_busy"
        # No queue: answered without waiting for a place (the streams run ~1.6 s more).
        assert took < 1.0, took

    for reader in readers:
        reader.join(30)
    assert len(admitted) == LIMIT
    for status, lines in admitted:
        assert status == 200
        assert len(lines) == len(WORDS) + 2  # role chunk, words, finish chunk: all of it
        assert "error" not in json.loads(lines[-1])
    # Refused requests never reached the upstream.
    assert len(upstream.records) - before == LIMIT

    # Places free again once the streams ended.
    assert wait_for(lambda: httpx2.post(url, json=CHAT, timeout=30).status_code == 200, 10)


def test_requests_that_fail_before_streaming_give_their_place_back(server, upstream):
    url = server.url + "/api/chat"
    with httpx2.Client(timeout=10) as http:
        for _ in range(LIMIT + 2):
            assert (
                http.post(
                    url, content=b"{nope", headers={"content-type": "application/json"}
                ).status_code
                == 400
            )
        upstream.scripts["refuses"] = Script(status=500)
        for _ in range(LIMIT + 2):
            assert http.post(url, json={**CHAT, "model": "refuses"}).status_code == 502
    done: list = []
    run_threads(stream_whole, [(url, done)] * LIMIT, 30)
    assert [status for status, _ in done] == [200] * LIMIT
