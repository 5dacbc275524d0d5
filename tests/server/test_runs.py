"""Runs under real gunicorn with two workers: a reply outlives its connection, is resumed
byte for byte whichever worker serves the resume, stops from anywhere, and belongs to
whoever started it."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import CHAT, counted_reply
from tests.support.runs import log_lines, owner_pid, served_by
from tests.support.waiting import wait_for

pytestmark = pytest.mark.server

WORDS = 40
REPLY = counted_reply("chatcmpl-run", prompt=9, completion=WORDS)  # 40 words, finish, usage
RUNS = {"WEB_CONCURRENCY": "2", "RUN_GRACE_SECONDS": "60"}


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        fake.script = Script(payloads=REPLY, interval=0.05)
        yield fake


def pid_of(server: RunningServer, response: httpx2.Response) -> int:
    """Which worker answered ``response`` (from its log line)."""
    pid = served_by(server, response.headers["X-Request-ID"])
    assert pid is not None
    return pid


def first_lines(server: RunningServer, count: int) -> tuple[str, list[bytes], int]:
    """POST a chat, read ``count`` lines, hang up: (run id, the lines, the worker's pid)."""
    with (
        httpx2.Client(timeout=30) as http,
        http.stream(
            "POST", server.url + "/api/chat", json=CHAT, headers={"Connection": "close"}
        ) as response,
    ):
        assert response.status_code == 200
        run_id = response.headers["X-Run-ID"]
        lines = []
        for line in response.iter_lines():
            if line:
                lines.append(line.encode() + b"\n")
            if len(lines) == count:
                break
    return run_id, lines, owner_pid(run_id)


def resume(server: RunningServer, run_id: str, after: int, **headers: str) -> httpx2.Response:
    return httpx2.get(
        f"{server.url}/api/runs/{run_id}",
        params={"after": after} if after is not None else None,
        headers={"Connection": "close", **headers},
        timeout=30,
    )


def resume_elsewhere(server, run_id: str, after: int, owner: int) -> httpx2.Response:
    """A resume answered by the worker that does not own the run (new connections until
    the other worker takes one)."""
    for _ in range(40):
        response = resume(server, run_id, after)
        if pid_of(server, response) != owner:
            return response
    raise AssertionError("every resume went to the owning worker")


def test_a_dropped_reader_resumes_on_the_other_worker_byte_for_byte(upstream):
    server = start_gunicorn_against(upstream.base_url, **RUNS)
    try:
        run_id, head, owner = first_lines(server, 10)
        rest = resume_elsewhere(server, run_id, 10, owner)
        assert rest.status_code == 200 and rest.headers["X-Run-ID"] == run_id
        replay = resume(server, run_id, 0)
    finally:
        server.stop()
    sent = [payload + b"\n" for payload in REPLY]  # what the upstream sent, one per line
    assert b"".join(head) + rest.content == replay.content == b"".join(sent)
    assert b'"finish_reason":"stop"' in rest.content


def test_sse_resumes_from_last_event_id_and_ends_as_the_original(upstream):
    server = start_gunicorn_against(upstream.base_url, **RUNS)
    try:
        run_id, _, _ = first_lines(server, 6)
        events = resume(
            server, run_id, None, **{"Accept": "text/event-stream", "Last-Event-ID": "5"}
        )
    finally:
        server.stop()
    assert events.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in events.content.split(b"\n\n") if b and not b.startswith(b":")]
    assert blocks[0] == b"id: 6\ndata: " + REPLY[5]
    assert blocks[-2] == f"id: {len(REPLY)}\ndata: ".encode() + REPLY[-1]
    assert blocks[-1] == b"data: [DONE]"


def test_a_resume_point_past_the_reply_is_a_400_and_an_unknown_run_a_404(upstream):
    server = start_gunicorn_against(upstream.base_url, **RUNS)
    try:
        run_id, _, _ = first_lines(server, 2)
        too_far = resume(server, run_id, 10_000)
        not_a_number = resume(server, run_id, None, **{"Last-Event-ID": "-1"})
        owner = run_id.split(".")[0]
        made_up = resume(server, owner + ".AAAAAAAAAAAAAAAAAAAAAAAA", 0)
        malformed = resume(server, "nonsense", 0)
    finally:
        server.stop()
    assert (too_far.status_code, too_far.json()["error"]["code"]) == (400, "bad_resume_point")
    assert not_a_number.status_code == 400
    for response in (made_up, malformed):
        assert (response.status_code, response.json()["error"]["code"]) == (404, "run_not_found")


@pytest.mark.parametrize(("grace", "earliest", "latest"), [(2, 1.5, 2 + 2), (0, 0, 3)])
def test_a_run_with_no_reader_is_closed_upstream_after_its_grace(upstream, grace, earliest, latest):
    upstream.script = Script(payloads=REPLY, interval=0.5)  # 20 s of reply
    server = start_gunicorn_against(
        upstream.base_url, WEB_CONCURRENCY="2", RUN_GRACE_SECONDS=str(grace)
    )
    try:
        first_lines(server, 2)
        left = time.monotonic()
        assert wait_for(lambda: upstream.records[-1].peer_closed is not None, 10)
    finally:
        server.stop()
    # With no grace, within 3 s of the last reader leaving, as a connection-bound stream.
    assert earliest <= upstream.records[-1].peer_closed - left < latest


def test_stop_from_another_worker_closes_the_upstream_and_ends_every_reader(upstream):
    upstream.script = Script(payloads=REPLY, interval=0.3)
    server = start_gunicorn_against(upstream.base_url, **RUNS)
    try:
        run_id, _, owner = first_lines(server, 2)
        with (
            httpx2.Client(timeout=30) as http,
            http.stream("GET", f"{server.url}/api/runs/{run_id}", params={"after": 0}) as reading,
        ):
            for _ in range(40):
                stopped = httpx2.post(
                    f"{server.url}/api/runs/{run_id}/stop", headers={"Connection": "close"}
                )
                if pid_of(server, stopped) != owner:
                    break
            sent_stop = time.monotonic()
            body = reading.read()
        ended = time.monotonic()
        assert wait_for(lambda: upstream.records[-1].peer_closed is not None, 5)
        output = log_lines(server)
    finally:
        server.stop()
    assert stopped.status_code == 202
    assert upstream.records[-1].peer_closed - sent_stop < 1.0
    assert ended - sent_stop < 2.0
    assert b'finish_reason":"stop' not in body and b'"error"' not in body
    (run_line,) = [e for e in output if e.get("run_id") == run_id]
    assert run_line["outcome"] == "stopped"
    assert run_line["tokens_counted"] > 0


def test_a_killed_owner_is_an_answer_within_seconds(upstream):
    upstream.script = Script(payloads=REPLY, interval=0.3)
    server = start_gunicorn_against(upstream.base_url, **RUNS)
    try:
        run_id, _, owner = first_lines(server, 2)
        os.kill(owner, signal.SIGKILL)
        started = time.monotonic()
        answer = resume(server, run_id, 0)
        waited = time.monotonic() - started
    finally:
        server.stop()
    assert waited < 5
    lost = answer.status_code == 200 and b'"code":"run_lost"' in answer.content
    assert answer.status_code == 404 or lost, answer.content


def stalled_reader(server: RunningServer) -> socket.socket:
    """A client with a tiny receive window that reads 300 bytes of its reply, then never
    reads again."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    body = json.dumps(CHAT).encode()
    sock.sendall(
        b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
        b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    sock.recv(300)
    return sock


def test_the_stalled_reader_attack_is_charged_the_reported_usage(upstream):
    # Some MB a reply: more than the kernel's socket buffers take, so writes block.
    words = 30_000
    upstream.script = Script(payloads=counted_reply("chatcmpl-big", 9, words))
    server = start_gunicorn_against(
        upstream.base_url, **RUNS, CLIENT_WRITE_TIMEOUT_SECONDS="2", MAX_STREAMS_PER_WORKER="3"
    )
    stalled = []
    try:
        stalled = [stalled_reader(server) for _ in range(3)]
        runs = lambda: [e for e in log_lines(server) if e.get("route") == "/api/chat"]  # noqa: E731
        assert wait_for(lambda: len(runs()) == 3, 60)
        charged = runs()
        fresh = httpx2.post(server.url + "/api/chat", json=CHAT, timeout=60)
        # Each stalled reader is let go once its write has waited 2 s (checked each second).
        dropped = wait_for(lambda: server.output().count("stalled_reader_dropped") == 3, 10)
    finally:
        for sock in stalled:
            sock.close()
        server.stop()
    # Generation went on at the upstream's pace: each run read the usage chunk.
    assert [e["tokens_counted"] for e in charged] == [9 + words] * 3
    assert all(e["tokens_source"] == "reported" for e in charged)
    assert fresh.status_code == 200  # the stalled readers hold no stream place
    assert dropped
