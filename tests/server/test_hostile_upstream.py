"""A hostile upstream against the real server (gunicorn, one gevent worker): nothing it
sends may exhaust the worker's memory, starve or outlive the client, or reach the
client as text."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.support.hostile_upstream import LEAK, HostileUpstream
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import chat_body
from tests.support.processes import status_kb, worker_pids
from tests.support.waiting import wait_for

HEARTBEAT = 1.0
# What one attack may add to the worker's peak memory: far above the 1 MiB event bound
# (MAX_UPSTREAM_EVENT_BYTES), below the 64 MiB an attack sends at most (MAX_BYTES in
# tests/support/hostile_upstream.py), so a worker that buffered a whole attack fails here.
MAX_PEAK_GROWTH_KB = 48 * 1024


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileUpstream]:
    with HostileUpstream() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def server(hostile) -> Iterator[RunningServer]:
    models = "endless-line,event-without-end,gzip-bomb,comments-forever,escaped-error"
    server = start_gunicorn_against(
        hostile.base_url,
        OPENAI_MODEL="late-responses-type",
        OPENAI_MODELS=models,
        HEARTBEAT_SECONDS=str(HEARTBEAT),
        OPENAI_STREAM_USAGE="false",
    )
    yield server
    server.stop()


def worker_pid(server: RunningServer) -> int:
    """The one gunicorn worker under the server's master."""
    children = worker_pids(server.process.pid)
    assert len(children) == 1, children
    return children[0]


def reset_peak(pid: int) -> None:
    """Start the worker's peak-RSS count (VmHWM) afresh (Linux: clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def stream_lines(server: RunningServer, model: str, route: str = "/api/chat") -> tuple:
    """POST and read the whole NDJSON body: (status, lines, seconds taken)."""
    started = time.monotonic()
    with httpx2.stream(
        "POST", server.url + route, json=chat_body(model=model), timeout=30
    ) as response:
        body = response.read()
    return response.status_code, body.decode().splitlines(), time.monotonic() - started


@pytest.mark.parametrize("attack", ["endless-line", "event-without-end"])
def test_unbounded_upstream_data_ends_the_stream_within_the_memory_bound(
    server, hostile, attack, report
):
    pid = worker_pid(server)
    reset_peak(pid)
    before = status_kb(pid, "VmRSS")
    status, lines, took = stream_lines(server, attack)
    growth = status_kb(pid, "VmHWM") - before
    report(f"{attack}: ended in {took:.1f} s, worker peak grew {growth} kB")
    assert status == 200
    last = json.loads(lines[-1])
    assert last["error"]["code"] == "upstream_malformed", lines[-1]
    assert took < 10
    assert growth <= MAX_PEAK_GROWTH_KB
    record = hostile.connections[-1]
    assert wait_for(lambda: record.closed_by_app, seconds=5), "upstream left open"
    assert record.bytes_sent < 16 << 20  # stopped near the bound, not at the attack's end


def test_an_encoded_body_is_refused_before_the_stream_and_never_inflated(server, hostile):
    pid = worker_pid(server)
    reset_peak(pid)
    before = status_kb(pid, "VmRSS")
    response = httpx2.post(server.url + "/api/chat", json=chat_body(model="gzip-bomb"))
    growth = status_kb(pid, "VmHWM") - before
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_bad_response"
    assert growth <= MAX_PEAK_GROWTH_KB


def test_a_client_gets_heartbeats_while_the_upstream_sends_only_comments(server, hostile):
    arrivals = []
    started = time.monotonic()
    with httpx2.stream(
        "POST", server.url + "/api/chat", json=chat_body(model="comments-forever"), timeout=30
    ) as response:
        assert response.status_code == 200
        for _ in response.iter_raw():
            arrivals.append(time.monotonic())
            if arrivals[-1] - started > 4 * HEARTBEAT + 0.5:
                break
    gaps = [b - a for a, b in zip([started, *arrivals], arrivals, strict=False)]
    assert len(arrivals) >= 4, arrivals
    assert max(gaps) <= HEARTBEAT + 1.0, gaps


def test_a_client_that_leaves_during_comments_frees_the_upstream_within_3_s(server, hostile):
    sock = socket.create_connection(("127.0.0.1", server.port))
    body = json.dumps(chat_body(model="comments-forever")).encode()
    sock.sendall(
        b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    count = len(hostile.connections)
    time.sleep(0.5)
    left = time.monotonic()
    sock.close()
    record = hostile.connections[count - 1]
    assert wait_for(lambda: record.closed_by_app, seconds=6), "the upstream stayed open"
    assert record.closed_by_app - left <= 3.0


@pytest.mark.parametrize(
    ("route", "attack"),
    [("/api/chat", "escaped-error"), ("/api/responses", "late-responses-type")],
)
def test_no_upstream_error_text_reaches_the_client_escaped_or_late(server, route, attack):
    status, lines, _ = stream_lines(server, attack, route)
    assert status == 200
    assert LEAK not in "\n".join(lines)
    last = json.loads(lines[-1])
    code = last["error"]["code"] if route == "/api/chat" else last["code"]
    assert code == "upstream_error", lines[-1]
