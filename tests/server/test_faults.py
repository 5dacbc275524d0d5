"""Upstream faults, client departures and leaks, through the real gunicorn + gevent server
and a fault-injecting upstream on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time

import httpx2
import pytest

from tests.support.environment import TEST_API_KEY
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import PROBE_APP, start_gunicorn_against
from tests.support.payloads import CHAT, chat_body, chunk_payload, reply_payloads
from tests.support.waiting import run_threads, wait_for

READ_TIMEOUT = 1.0
HEARTBEAT = 0.3


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(upstream):
    server = start_gunicorn_against(
        upstream.base_url,
        PROBE_APP,
        UPSTREAM_READ_TIMEOUT_SECONDS=str(READ_TIMEOUT),
        HEARTBEAT_SECONDS=str(HEARTBEAT),
    )
    yield server
    server.stop()


def post(server, body=CHAT, route="/api/chat") -> tuple[httpx2.Response, list[str], float]:
    """POST and read the whole body; returns the response, its lines and the duration."""
    start = time.monotonic()
    with httpx2.Client(timeout=30) as http:
        response = http.post(server.url + route, json=body)
    return response, response.text.split("\n")[:-1], time.monotonic() - start


def error_of(line: str) -> dict:
    parsed = json.loads(line)
    assert parsed["object"] == "chat.completion.chunk"
    assert parsed["choices"] == []
    return parsed["error"]


# --- before the stream starts --------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "expected", "code", "retry_after"),
    [
        (401, {}, 502, "upstream_auth", None),
        (403, {}, 502, "upstream_auth", None),
        (404, {}, 502, "model_not_found", None),
        (429, {"Retry-After": "12"}, 429, "upstream_rate_limited", "12"),
        (500, {}, 502, "upstream_unavailable", None),
        (503, {}, 502, "upstream_unavailable", None),
    ],
)
def test_upstream_status_is_mapped(server, upstream, status, headers, expected, code, retry_after):
    text = f'{{"error":{{"message":"bad key {TEST_API_KEY}"}}}}'.encode()
    upstream.script = Script(status=status, error_body=text, headers=headers)
    response, _, _ = post(server)
    assert response.status_code == expected
    assert response.json()["error"]["code"] == code
    assert response.headers.get("retry-after") == retry_after
    assert TEST_API_KEY not in response.text


def test_upstream_silent_before_headers_is_504_after_the_read_timeout(server, upstream):
    upstream.script = Script(header_delay=10, payloads=reply_payloads("x", ["late"]))
    response, _, elapsed = post(server)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert READ_TIMEOUT * 0.9 < elapsed < READ_TIMEOUT + 3


def test_upstream_that_hangs_up_before_answering_is_502(server, upstream):
    upstream.script = Script(drop_before_headers=True)
    response, _, _ = post(server)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"


def test_upstream_reset_after_its_headers_ends_with_error_line(server, upstream):
    upstream.script = Script(reset_after=0, payloads=reply_payloads("x", ["never"]))
    response, lines, _ = post(server)
    assert response.status_code == 200
    assert len(lines) == 1
    assert error_of(lines[0])["code"] == "upstream_disconnected"


def test_upstream_unreachable_is_502():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]  # bound, never listening: connections refused
        server = start_gunicorn_against(f"http://127.0.0.1:{dead_port}/v1")
        try:
            response, _, elapsed = post(server)
        finally:
            server.stop()
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    assert elapsed < 5


# --- after the stream started ---------------------------------------------------------


def test_connection_reset_mid_stream_ends_with_error_line(server, upstream):
    payloads = reply_payloads("chatcmpl-reset", ["a", "b", "c", "d"])
    upstream.script = Script(payloads=payloads, interval=0.02, reset_after=3)
    _, lines, _ = post(server)
    assert lines[:3] == [p.decode() for p in payloads[:3]]
    error = error_of(lines[3])
    assert error["code"] == "upstream_disconnected"
    assert json.loads(lines[3])["id"] == "chatcmpl-reset"
    assert len(lines) == 4


def test_malformed_line_ends_with_error_line(server, upstream):
    payloads = reply_payloads("chatcmpl-bad", ["a"])
    upstream.script = Script(payloads=[payloads[0], b'{"id": "chatcmpl-bad", "choi', payloads[1]])
    _, lines, _ = post(server)
    assert lines[0] == payloads[0].decode()
    assert error_of(lines[1])["code"] == "upstream_malformed"
    assert len(lines) == 2


def test_in_band_error_event_ends_with_our_error_line(server, upstream):
    leak = f'{{"error":{{"message":"Incorrect API key provided: {TEST_API_KEY}"}}}}'.encode()
    payloads = reply_payloads("chatcmpl-err", ["a", "b"])
    upstream.script = Script(payloads=[*payloads[:2], leak, *payloads[2:]])
    response, lines, _ = post(server)
    assert lines[:2] == [p.decode() for p in payloads[:2]]
    assert error_of(lines[2])["code"] == "upstream_error"
    assert len(lines) == 3
    assert TEST_API_KEY not in response.text


def test_stall_longer_than_the_read_timeout_ends_with_timeout_line(server, upstream):
    payloads = reply_payloads("chatcmpl-stall", ["a", "b"])
    upstream.script = Script(payloads=payloads, pauses={2: 30})
    _, lines, elapsed = post(server)
    data = [line for line in lines if line]
    assert data[:2] == [p.decode() for p in payloads[:2]]
    assert error_of(data[2])["code"] == "upstream_timeout"
    assert lines.count("") >= 2  # heartbeats kept the client's connection alive meanwhile
    assert READ_TIMEOUT * 0.9 < elapsed < READ_TIMEOUT + 3
    record = upstream.records[-1]
    assert record.peer_closed is not None or wait_for(lambda: record.peer_closed, 3)


def test_multibyte_characters_split_across_writes_arrive_intact(server, upstream):
    payloads = reply_payloads("chatcmpl-utf8", ["Grüße ", "世界 ", "🌍🚀", " ✓"])
    upstream.script = Script(payloads=payloads, split_every=1, split_pause=0.0005)
    response, lines, _ = post(server)
    assert response.content == b"".join(p + b"\n" for p in payloads)
    assert "".join(json.loads(x)["choices"][0]["delta"].get("content", "") for x in lines) == (
        "Grüße 世界 🌍🚀 ✓"
    )


def test_a_one_megabyte_delta_is_relayed_whole(server, upstream):
    big = "x" * 1_000_000
    payloads = [chunk_payload("chatcmpl-big", big), *reply_payloads("chatcmpl-big", ["!"])]
    upstream.script = Script(payloads=payloads)
    response, lines, _ = post(server)
    assert response.content == b"".join(p + b"\n" for p in payloads)
    assert len(lines) == len(payloads)


# --- clients that leave ---------------------------------------------------------------


def open_and_leave(url: str, read_lines: int) -> float:
    """Start a stream over a raw socket, read ``read_lines`` lines, close; when we left."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(CHAT).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        received = b""
        # Each relay write is one HTTP chunk ending "\n" + "\r\n": count those in the body.
        while received.partition(b"\r\n\r\n")[2].count(b"\n\r\n") < read_lines:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return time.monotonic()


def test_client_leaving_while_upstream_is_silent_frees_it_within_one_heartbeat(server, upstream):
    upstream.script = Script(payloads=reply_payloads("x", ["late"]), first_delay=30)
    left = open_and_leave(server.url, read_lines=1)  # the first heartbeat
    record = upstream.records[-1]
    closed = wait_for(lambda: record.peer_closed, 5)
    assert closed, "the upstream was never closed"
    # Without the FIN check it takes two heartbeats: the first write to a closed socket works.
    assert closed - left < HEARTBEAT * 1.5


def probe(server) -> dict:
    return httpx2.get(server.url + "/_probe", timeout=10).json()


def test_a_thousand_aborted_streams_leave_nothing_running(server, upstream, report):
    upstream.script = Script(
        payloads=reply_payloads("x", [f"w{i}" for i in range(400)]), interval=0.02
    )
    post(server, CHAT)  # warm
    before = probe(server)
    failures: list[Exception] = []

    def worker(count: int) -> None:
        for _ in range(count):
            try:
                open_and_leave(server.url, read_lines=2)
            except OSError as exc:
                failures.append(exc)

    took = run_threads(worker, [(40,)] * 25, 120)  # 1,000
    assert failures == []
    assert wait_for(lambda: upstream.live_connections == 0, 5), upstream.live_connections
    after = wait_for(lambda: (p := probe(server))["greenlets"] <= before["greenlets"] and p, 5)
    after = after or probe(server)
    report(f"1000 aborted streams in {took:.1f}s; worker before {before}, after {after}")
    assert after["greenlets"] <= before["greenlets"]
    assert after["fds"] <= before["fds"] + 2
    assert upstream.open_streams() == 0


# --- bad input through the real server ------------------------------------------------


def encoded(body: dict) -> bytes:
    return json.dumps(body).encode()


BAD_REQUESTS = [
    (b"not json", "application/json", 400),
    (b"[" * 50_000, "application/json", 400),
    (b'{"messages": [{"role": "system", "content": "x"}]}', "application/json", 400),
    (encoded(chat_body("a\u0000b")), "application/json", 400),
    (encoded(chat_body("\ud800")), "application/json", 400),
    (encoded(chat_body("hi")), "text/plain", 415),
    # Past MAX_CONTENT_LENGTH (by default room for four of the largest images, ~29 MB):
    # refused by its Content-Length, before a byte of it is read.
    (encoded(chat_body("x" * 30_000_000)), "application/json", 413),
]


def test_bad_requests_get_4xx_json_and_the_server_streams_on(server, upstream):
    with httpx2.Client(timeout=30) as http:
        for body, content_type, expected in BAD_REQUESTS:
            response = http.post(
                server.url + "/api/chat", content=body, headers={"Content-Type": content_type}
            )
            assert response.status_code == expected, body[:40]
            assert response.json()["error"]["message"]
        assert http.get(server.url + "/api/chat").status_code == 405
    payloads = reply_payloads("chatcmpl-after", ["still", " fine"])
    upstream.script = Script(payloads=payloads)
    response, _, _ = post(server)
    assert response.content == b"".join(p + b"\n" for p in payloads)
    assert "Traceback" not in server.output()
