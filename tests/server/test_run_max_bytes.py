"""RUN_MAX_BYTES under real gunicorn: a reply that grows past it ends with a
``reply_too_long`` error line, keeps no byte past the limit, and every reader gets the
same bytes, whether the POST's own reader was reading the upstream (it keeps up) or the
run's producer was (its reader hung up)."""

from __future__ import annotations

import json

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import CHAT, reply_payloads

pytestmark = pytest.mark.server

LIMIT = 64 * 1024  # the least RUN_MAX_BYTES may be
# About 240 bytes a line, 600 lines: well past the limit.
REPLY = reply_payloads("chatcmpl-long", [f"w{i:03d} " + "x" * 120 for i in range(600)])
SENT = [payload + b"\n" for payload in REPLY]


@pytest.fixture
def server():
    with FakeUpstream() as fake:
        fake.script = Script(payloads=REPLY, interval=0.002)
        running = start_gunicorn_against(
            fake.base_url, RUN_MAX_BYTES=str(LIMIT), RUN_GRACE_SECONDS="60"
        )
        try:
            yield running
        finally:
            running.stop()


def check_cut_at_the_limit(body: bytes) -> None:
    """``body`` is the upstream's lines up to the limit, then the reply_too_long line."""
    *kept, last = body.splitlines(keepends=True)
    assert json.loads(last)["error"]["code"] == "reply_too_long"
    assert kept == SENT[: len(kept)]
    size = sum(map(len, kept))
    assert size <= LIMIT < size + len(SENT[len(kept)])


def resume(server, run_id: str, after: int) -> bytes:
    response = httpx2.get(f"{server.url}/api/runs/{run_id}", params={"after": after}, timeout=30)
    assert response.status_code == 200
    return response.content


def test_a_reader_that_keeps_up_gets_the_reply_cut_at_the_limit(server):
    response = httpx2.post(server.url + "/api/chat", json=CHAT, timeout=30)
    assert response.status_code == 200
    check_cut_at_the_limit(response.content)
    assert resume(server, response.headers["X-Run-ID"], 0) == response.content


def test_a_run_read_on_by_its_producer_is_cut_at_the_limit_too(server):
    with (
        httpx2.Client(timeout=30) as http,
        http.stream("POST", server.url + "/api/chat", json=CHAT) as response,
    ):
        run_id = response.headers["X-Run-ID"]
        first = next(response.iter_lines()).encode() + b"\n"
    # Hung up after one line: the run generates on by itself, within its grace.
    rest = resume(server, run_id, 1)
    check_cut_at_the_limit(first + rest)
    assert resume(server, run_id, 0) == first + rest
