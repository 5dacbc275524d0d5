"""Token budgets through the API in one process: refusals, caps, headers and log lines
(the SDK's real parsing on a fake transport). The settings: test_budget_settings.py;
counting and the ledger: test_budget_ledger.py; several workers and instances:
tests/server/test_budgets.py.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time

import httpx2
import pytest

from streamchat.settings import load_settings
from tests.support.budgets import REPLY, counted_input, reply, sse_handler
from tests.support.payloads import CHAT, chat_body, reply_payloads, responses_payloads


@pytest.fixture
def budget_app(make_app):
    """``budget_app(payloads, **settings)``: the app answered by ``payloads``."""

    def build(payloads=REPLY, **settings):
        return make_app(sse_handler(payloads), **settings)

    return build


def sent_bodies(app) -> list[dict]:
    return [json.loads(request.content) for request in app.transport.requests]


def log_lines(caplog) -> list[dict]:
    """The access log's fields, one dict per request."""
    return [vars(r) for r in caplog.records if r.name == "streamchat.access"]


def test_a_spent_budget_is_refused_before_any_upstream_call(budget_app, caplog):
    app = budget_app(TOKEN_BUDGET="300/hour")
    client = app.test_client()
    statuses = [reply(client).status_code for _ in range(6)]
    assert statuses == [200] * 4 + [429] * 2
    assert len(app.transport.requests) == 4  # nothing went upstream for the refusals
    refusal = reply(client)
    assert refusal.json["error"]["code"] == "budget_exhausted"
    assert 0 < int(refusal.headers["Retry-After"]) <= 3600
    assert client.get("/api/budget").json["used"] == 4 * 72
    lines = [line for line in log_lines(caplog) if line["route"] == "/api/chat"]
    assert [line.get("tokens_counted") for line in lines[:4]] == [72] * 4
    assert {line.get("tokens_source") for line in lines[:4]} == {"reported"}


def test_the_cap_sent_upstream_is_what_is_left(budget_app):
    app = budget_app(TOKEN_BUDGET="300/hour", MAX_OUTPUT_TOKENS="200")
    client = app.test_client()
    first = reply(client)
    assert first.headers["X-Token-Budget-Remaining"] == "300"
    second = reply(client)
    assert second.headers["X-Token-Budget-Remaining"] == "228"
    estimated = counted_input([{"content": load_settings({}).system_prompt}, {"content": "hi"}])
    caps = [body["max_tokens"] for body in sent_bodies(app)]  # 127.0.0.1: auto → max_tokens
    assert caps == [200, 228 - estimated]
    assert all("max_completion_tokens" not in body for body in sent_bodies(app))


def test_a_stream_without_usage_is_counted_by_estimate(budget_app, caplog):
    app = budget_app(reply_payloads("chatcmpl-x", ["a", "b", "c"]), TOKEN_BUDGET="300/hour")
    client = app.test_client()
    body = reply(client, chat_body("x" * 400)).data
    lines = body.count(b"\n")
    (line,) = [entry for entry in log_lines(caplog) if entry["route"] == "/api/chat"]
    assert line["tokens_source"] == "estimated"
    estimated_input = line["tokens_counted"] - lines
    system = load_settings({}).system_prompt
    assert estimated_input == counted_input([{"content": system}, {"content": "x" * 400}])
    assert client.get("/api/budget").json["used"] == line["tokens_counted"]


def test_an_upstream_refusal_gives_the_reservation_back(make_app):
    def overloaded(request):
        return httpx2.Response(503, json={"error": {"message": "overloaded"}})

    app = make_app(overloaded, TOKEN_BUDGET="300/hour")
    client = app.test_client()
    assert reply(client).status_code >= 500
    assert len(app.transport.requests) == 1
    assert client.get("/api/budget").json["used"] == 0


def test_an_unreachable_store_refuses_rather_than_guessing(make_app, tmp_path):
    # A directory where the file should be: SQLite cannot open it.
    app = make_app(sse_handler(), TOKEN_BUDGET="300/hour", SQLITE_PATH=str(tmp_path))
    client = app.test_client()
    response = reply(client)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "budget_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert app.transport.requests == []
    assert client.get("/api/budget").status_code == 503


def test_a_gone_redis_refuses_within_about_a_second(make_app):
    app = make_app(
        sse_handler(), TOKEN_BUDGET="300/hour", RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0"
    )
    started = time.monotonic()
    response = reply(app.test_client())
    assert time.monotonic() - started < 3
    assert response.json["error"]["code"] == "budget_unavailable"
    assert app.transport.requests == []


def test_a_stream_cut_off_by_the_upstream_is_counted_by_estimate(make_app, caplog):
    cut = reply_payloads("chatcmpl-cut", [f"w{i} " for i in range(20)])[:-1]  # no finish
    app = make_app(sse_handler(cut, done=False), TOKEN_BUDGET="300/hour")
    client = app.test_client()
    body = reply(client).data
    assert b"upstream_cut_off" in body
    (line,) = [entry for entry in log_lines(caplog) if entry["route"] == "/api/chat"]
    assert (line["outcome"], line["tokens_source"]) == ("upstream_error", "estimated")
    assert line["tokens_counted"] >= 20
    assert client.get("/api/budget").json["used"] == line["tokens_counted"]


def test_a_file_locked_by_another_process_refuses_within_a_moment(make_app, tmp_path):
    # sqlite waits for a lock inside C, where gevent cannot switch: the wait must be short.
    path = tmp_path / "counts.sqlite3"
    app = make_app(sse_handler(), TOKEN_BUDGET="300/hour", SQLITE_PATH=str(path))
    client = app.test_client()
    assert reply(client).status_code == 200  # the file exists, in WAL mode
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        started = time.monotonic()
        refused = reply(client)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert refused.json["error"]["code"] == "budget_unavailable"
    assert waited < 1.0
    assert reply(client).status_code == 200  # and fine once the lock is gone


def test_a_redis_that_accepts_but_never_answers_refuses_after_its_timeout(make_app):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never replies
        port = silent.getsockname()[1]
        app = make_app(
            sse_handler(),
            TOKEN_BUDGET="300/hour",
            RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
        )
        started = time.monotonic()
        refused = reply(app.test_client())
        waited = time.monotonic() - started
    assert refused.json["error"]["code"] == "budget_unavailable"
    assert 0.5 < waited < 3.0  # the 1 s timeout, not a hang
    assert app.transport.requests == []


def test_the_responses_api_is_capped_and_counted_the_same(make_app, caplog):
    payloads = responses_payloads("resp_budget", ["Hello", " there"])
    app = make_app(sse_handler(payloads), TOKEN_BUDGET="300/hour", MAX_OUTPUT_TOKENS="200")
    client = app.test_client()
    response = client.post("/api/responses", json=CHAT)
    response.get_data()
    assert response.headers["X-Token-Budget-Remaining"] == "300"
    assert sent_bodies(app)[0]["max_output_tokens"] == 200
    (line,) = [entry for entry in log_lines(caplog) if entry["route"] == "/api/responses"]
    # These events report no usage: the estimate, the input and a token an event.
    assert line["tokens_source"] == "estimated"
    assert line["tokens_counted"] > len(payloads)
    assert client.get("/api/budget").json["used"] == line["tokens_counted"]


def test_an_sse_stream_carries_the_header_and_is_counted(budget_app):
    app = budget_app(TOKEN_BUDGET="300/hour")
    client = app.test_client()
    response = client.post("/api/chat", json=CHAT, headers={"Accept": "text/event-stream"})
    assert b"data: [DONE]" in response.get_data()
    assert response.headers["X-Token-Budget-Remaining"] == "300"
    assert client.get("/api/budget").json["used"] == 72
