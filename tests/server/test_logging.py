"""Structured logs: one JSON line per request on stdout, read from the real server."""

from __future__ import annotations

import json
import socket
import time

import httpx2
import pytest

from tests.support.environment import TEST_API_KEY
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import chat_body, chunk_payload, reply_payloads, usage_payload

CONTENT_MARKER = "please-never-log-this-sentence"
USAGE = usage_payload("chatcmpl-log", 11, 3)


def chat(model: str, request_id: str | None = None) -> dict:
    return {
        "json": chat_body(CONTENT_MARKER, model),
        "headers": {"X-Request-ID": request_id} if request_id else {},
    }


@pytest.fixture(scope="module")
def logged():
    """Run a set of requests through a real server; return its log lines and responses."""
    with FakeUpstream() as upstream:
        upstream.scripts = {
            "ok": Script(payloads=[*reply_payloads("chatcmpl-log", ["a", "b", "c"]), USAGE]),
            "broken": Script(payloads=[chunk_payload("chatcmpl-log", "a")], send_done=False),
            "slow": Script(payloads=reply_payloads("chatcmpl-log", ["x"] * 200), interval=0.05),
        }
        server = start_gunicorn_against(
            upstream.base_url, OPENAI_MODEL="ok", OPENAI_MODELS="broken,slow"
        )
        responses = {}
        with httpx2.Client(timeout=30) as http:
            url = server.url + "/api/chat"
            responses["completed"] = http.post(url, **chat("ok", "req-completed-1"))
            responses["upstream_error"] = http.post(url, **chat("broken"))
            responses["rejected"] = http.post(url, json={"messages": []})
            responses["bad_id"] = http.post(url, **chat("ok", "bad id with spaces"))
        host, port = server.url.removeprefix("http://").split(":")
        body = json.dumps(chat("slow", "req-left-1")["json"]).encode()
        with socket.create_connection((host, int(port))) as sock:  # leaves mid-stream
            sock.sendall(
                b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Request-ID: req-left-1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            sock.recv(4096)
        time.sleep(1.0)  # the server notices at its next write
        output = server.stop()
    lines = [json.loads(x) for x in output.splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("logger") == "streamchat.access"], responses, output


def by_id(lines: list[dict], request_id: str) -> dict:
    (line,) = [x for x in lines if x["request_id"] == request_id]
    return line


def test_one_line_per_request(logged):
    lines, _, _ = logged
    assert len([x for x in lines if x["route"] == "/api/chat"]) == 5
    assert {x["route"] for x in lines} == {"/api/chat", "/"}  # "/": the readiness poll
    assert all(x["message"] == "request" and x["level"] == "INFO" for x in lines)


def test_completed_stream_line(logged):
    lines, responses, _ = logged
    assert responses["completed"].headers["X-Request-ID"] == "req-completed-1"
    line = by_id(lines, "req-completed-1")
    assert line["route"] == "/api/chat"
    assert (line["status"], line["outcome"], line["model"]) == (200, "completed", "ok")
    assert line["chunks"] == 6  # role, a, b, c, finish, usage
    assert line["bytes"] == len(responses["completed"].content)
    assert line["usage"] == {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    assert 0 < line["ttfb_ms"] <= line["duration_ms"]
    # A real HTTP/1.1 upstream under gunicorn is read by streamchat.relay.direct_body.
    assert line["upstream_read"] == "direct"


def test_upstream_error_line(logged):
    lines, responses, _ = logged
    line = by_id(lines, responses["upstream_error"].headers["X-Request-ID"])
    assert (line["outcome"], line["error_code"], line["model"]) == (
        "upstream_error",
        "upstream_cut_off",
        "broken",
    )


def test_rejected_line(logged):
    lines, responses, _ = logged
    line = by_id(lines, responses["rejected"].headers["X-Request-ID"])
    assert (line["status"], line["outcome"], line["error_code"]) == (
        400,
        "rejected",
        "invalid_messages",
    )


def test_client_disconnected_line(logged):
    lines, _, _ = logged
    line = by_id(lines, "req-left-1")
    assert line["outcome"] == "client_disconnected"
    assert line["model"] == "slow"
    assert line["chunks"] < 200


def test_unsafe_request_id_is_replaced(logged):
    lines, responses, _ = logged
    echoed = responses["bad_id"].headers["X-Request-ID"]
    assert echoed != "bad id with spaces"
    assert len(echoed) == 32
    assert by_id(lines, echoed)["outcome"] == "completed"


def test_no_content_and_no_key_in_the_log(logged):
    _, _, output = logged
    assert CONTENT_MARKER not in output
    assert TEST_API_KEY not in output
