"""Hostile clients against the real server (gunicorn, one gevent worker): trickled request
bodies, a foreign Host, an oversized chunked body. None may hold a stream place or
reach the upstream."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import CHAT, reply_payloads

STREAM_LIMIT = 4
BODY_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.script = Script(payloads=reply_payloads("chatcmpl-h", ["Hello", "!"]))
        yield fake


@pytest.fixture(scope="module")
def server(upstream) -> Iterator[RunningServer]:
    server = start_gunicorn_against(
        upstream.base_url,
        MAX_STREAMS_PER_WORKER=str(STREAM_LIMIT),
        REQUEST_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        MAX_CONTENT_LENGTH="4096",
    )
    yield server
    server.stop()


def trickle(port: int, outcome: dict, index: int) -> None:
    """Send headers promising 100 bytes, then one byte, then nothing; note what came back
    and when (None: the connection was closed without an answer)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(BODY_TIMEOUT + 10)
        sock.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        try:
            answer = sock.recv(65536)
        except OSError:
            answer = b""
    status = answer.split(b"\r\n", 1)[0].split(b" ")[1] if answer else None
    outcome[index] = (status, time.monotonic() - started)


def test_trickled_bodies_hold_no_stream_place_and_get_408(server, upstream):
    outcome: dict = {}
    threads = [
        threading.Thread(target=trickle, args=(server.port, outcome, i))
        for i in range(2 * STREAM_LIMIT)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # every trickler has sent its headers and its one byte
    started = time.monotonic()
    response = httpx2.post(server.url + "/api/chat", json=CHAT, timeout=10)
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 1.5
    for thread in threads:
        thread.join(BODY_TIMEOUT + 12)
    assert len(outcome) == 2 * STREAM_LIMIT
    for status, took in outcome.values():
        assert status in (b"408", None), status
        assert took <= BODY_TIMEOUT + 2.0, took


def test_a_foreign_host_gets_400_and_reaches_no_upstream(server, upstream):
    before = len(upstream.records)
    response = httpx2.post(
        server.url + "/api/chat",
        json=CHAT,
        headers={"Host": "evil.example", "Origin": "http://evil.example"},
    )
    assert response.status_code == 400
    assert "error" in response.json()
    assert len(upstream.records) == before


def test_an_oversized_chunked_body_gets_413(server):
    def body():
        yield json.dumps({"messages": [{"role": "user", "content": "x" * 8000}]}).encode()

    response = httpx2.post(
        server.url + "/api/chat",
        content=body(),  # a generator: sent chunked, with no Content-Length
        headers={"Content-Type": "application/json"},
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_entity_too_large"
