"""Token budgets under real servers: two gunicorn workers sharing the SQLite count, two
instances sharing a real redis-server, a client that leaves mid-reply, and the output
cap reaching an upstream that reads only ``max_tokens``.

The fake upstream reports 72 tokens per reply (12 in, 60 out). Client addresses come
from X-Forwarded-For (TRUSTED_PROXY_COUNT=1), so one test can be several clients.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import threading
import time

import httpx2
import pytest
import redis as redis_client

from streamchat.settings import DEFAULT_SYSTEM_PROMPT
from tests.support.budgets import counted_input
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import chat_body, counted_reply, reply_payloads
from tests.support.waiting import wait_for

CHAT = chat_body("hi")
# What the app estimates for CHAT's input: the default system prompt and "hi".
ESTIMATED_INPUT = counted_input(
    [{"content": DEFAULT_SYSTEM_PROMPT}, {"content": CHAT["messages"][-1]["content"]}]
)
BUDGETS = {"TOKEN_BUDGET": "300/hour", "GLOBAL_TOKEN_BUDGET": "1000/hour"}


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream() as fake:
        # It honours the cap as local servers do (the app sends 127.0.0.1 max_tokens).
        fake.script = Script(
            payloads=counted_reply("chatcmpl-budget", prompt=12, completion=60),
            honours="max_tokens",
        )
        # A long reply for the client that leaves: 200 tokens at 50 a second.
        fake.scripts["slow"] = Script(
            payloads=counted_reply("chatcmpl-slow", prompt=12, completion=200), interval=0.02
        )
        yield fake


@pytest.fixture
def two_workers(upstream):
    server = start_gunicorn_against(
        upstream.base_url,
        WEB_CONCURRENCY="2",
        TRUSTED_PROXY_COUNT="1",
        OPENAI_MODELS="slow",
        **BUDGETS,  # and the default storage: the machine's SQLite file (SQLITE_PATH)
    )
    yield server
    server.stop()


def chat(server: RunningServer, address: str) -> httpx2.Response:
    """One reply for the client at ``address``, on a new connection (so either worker
    may take it), read to its end."""
    return httpx2.post(
        server.url + "/api/chat",
        json=CHAT,
        headers={"X-Forwarded-For": address, "Connection": "close"},
        timeout=30,
    )


def budget_of(server: RunningServer, address: str) -> dict:
    response = httpx2.get(server.url + "/api/budget", headers={"X-Forwarded-For": address})
    assert response.status_code == 200
    return response.json()


def access_lines(server: RunningServer) -> dict[str, dict]:
    """The access log's lines so far, by request id."""
    lines = [json.loads(x) for x in server.output().splitlines() if x.startswith("{")]
    return {x["request_id"]: x for x in lines if x.get("logger") == "streamchat.access"}


def test_one_client_is_refused_after_four_replies_whichever_worker_answers(two_workers, upstream):
    sent_before = len(upstream.records)
    responses = [chat(two_workers, "198.51.100.1") for _ in range(6)]
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 4 + [429] * 2
    assert len(upstream.records) - sent_before == 4  # refusals send nothing upstream
    refusal = responses[-1]
    assert refusal.json()["error"]["code"] == "budget_exhausted"
    assert 0 < int(refusal.headers["Retry-After"]) <= 3600
    assert [r.headers.get("X-Token-Budget-Remaining") for r in responses[:4]] == [
        "300",
        "228",
        "156",
        "84",
    ]
    # Refusals until both workers have answered this client: a worker counting alone
    # would have admitted it again.
    for _ in range(30):
        pids = {access_lines(two_workers)[r.headers["X-Request-ID"]]["pid"] for r in responses}
        if len(pids) == 2:
            break
        responses.append(chat(two_workers, "198.51.100.1"))
        assert responses[-1].status_code == 429
    assert len(pids) == 2, "both workers should have answered the client"
    assert len(upstream.records) - sent_before == 4

    # Another address still streams, and each sees its own figures.
    other = chat(two_workers, "198.51.100.2")
    assert other.status_code == 200 and b"w59 " in other.content
    mine, theirs = budget_of(two_workers, "198.51.100.1"), budget_of(two_workers, "198.51.100.2")
    # The 4th reply was sent with a cap of 84 less its estimated input, and kept to it.
    used = 3 * 72 + 12 + (84 - ESTIMATED_INPUT)
    assert (mine["limit"], mine["used"], mine["remaining"]) == (300, used, 300 - used)
    assert (theirs["used"], theirs["remaining"]) == (72, 228)
    assert 0 < mine["resets_in_seconds"] <= 3600 and mine["period_seconds"] == 3600
    assert mine["global"]["used"] == theirs["global"]["used"] == used + 72


def test_a_reply_the_client_abandoned_still_costs_what_it_relayed(two_workers, upstream):
    host, port = two_workers.url.removeprefix("http://").split(":")
    body = json.dumps(chat_body("hi", "slow")).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Forwarded-For: 198.51.100.3\r\nX-Request-ID: left-after-30\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        received = b""
        while received.count(b'"content":"w') < 30:  # about 30 tokens, then leave
            chunk = sock.recv(65536)
            assert chunk, "the stream ended early"
            received += chunk
    line = wait_for(lambda: access_lines(two_workers).get("left-after-30"), seconds=10)
    assert line["outcome"] == "client_disconnected"
    assert line["tokens_source"] == "estimated"  # the usage chunk never came
    # "slow" names no known tokenizer: its input is counted by the byte bound.
    slow_input = counted_input([{"content": DEFAULT_SYSTEM_PROMPT}, {"content": "hi"}], "slow")
    assert 30 <= line["tokens_counted"] - slow_input <= 45
    assert budget_of(two_workers, "198.51.100.3")["used"] == line["tokens_counted"]
    slow = upstream.records[-1]
    assert slow.peer_closed is not None and slow.events_sent < 100  # stopped, not run out


def test_a_reply_ended_by_shutdown_is_counted_before_the_worker_exits(upstream, tmp_path):
    counts = tmp_path / "counts.sqlite3"
    server = start_gunicorn_against(
        upstream.base_url,
        OPENAI_MODELS="slow",
        GRACEFUL_TIMEOUT="2",
        SQLITE_PATH=str(counts),
        **BUDGETS,
    )
    received: list[bytes] = []

    def read() -> None:
        body = chat_body("hi", "slow")
        with httpx2.stream("POST", server.url + "/api/chat", json=body, timeout=30) as reply:
            received.extend(reply.iter_lines())

    reader = threading.Thread(target=read)
    reader.start()
    assert wait_for(lambda: len(received) >= 10)
    server.process.send_signal(signal.SIGTERM)
    reader.join(15)
    assert server.process.wait(15) == 0
    lines = [json.loads(x) for x in server.stop().splitlines() if x.startswith("{")]
    (line,) = [x for x in lines if x.get("route") == "/api/chat"]
    assert (line["outcome"], line["tokens_source"]) == ("server_shutdown", "estimated")
    assert "server_shutting_down" in received[-1]
    with sqlite3.connect(counts) as database:
        (spent,) = database.execute(
            "SELECT total FROM budget_counters WHERE key LIKE 'streamchat:budget:global:%'"
        ).fetchone()
    assert spent == line["tokens_counted"] > ESTIMATED_INPUT  # settled, not left reserved


def test_fresh_clients_are_refused_once_the_deployment_spent_its_budget(two_workers, upstream):
    statuses = []
    for n in range(20):
        response = chat(two_workers, f"203.0.113.{n + 1}")
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    # 13 x 72 = 936; the 14th is sent with a cap of the 64 left less its estimated input
    # and stops there; what is then left does not cover another input.
    assert statuses == [200] * 14 + [429]
    assert response.json()["error"]["code"] == "global_budget_exhausted"
    assert int(response.headers["Retry-After"]) > 0
    assert upstream.records[-1].request["max_tokens"] == 64 - ESTIMATED_INPUT
    figures = budget_of(two_workers, "203.0.113.99")
    assert figures["used"] == 0
    assert figures["global"]["used"] == 936 + 12 + 64 - ESTIMATED_INPUT <= 1000
    sent = len(upstream.records)
    assert chat(two_workers, "203.0.113.100").status_code == 429
    assert len(upstream.records) == sent


@pytest.mark.parametrize("setting", ["REDIS_URL", "RATELIMIT_STORAGE_URI"])
def test_two_instances_share_one_budget_through_redis(redis, upstream, setting):
    url, process = redis
    servers = [
        start_gunicorn_against(
            upstream.base_url, TRUSTED_PROXY_COUNT="1", **{setting: url}, **BUDGETS
        )
        for _ in range(2)
    ]
    try:
        sent_before = len(upstream.records)
        statuses = [chat(servers[i % 2], "198.51.100.7").status_code for i in range(6)]
        assert statuses == [200] * 4 + [429] * 2
        assert len(upstream.records) - sent_before == 4
        shared = redis_client.Redis.from_url(url)
        keys = shared.keys("streamchat:budget:*")
        assert len(keys) == 2  # this client's window and the deployment's
        # Each goes when its window (and an hour's grace for late settling) has passed.
        assert all(3600 < shared.ttl(key) <= 2 * 3600 + 1 for key in keys)
        assert budget_of(servers[1], "198.51.100.7")["used"] == 3 * 72 + 12 + 84 - ESTIMATED_INPUT

        # Redis gone: budgets cannot be checked, so nothing is spent unchecked.
        process.terminate()
        process.wait(10)
        started = time.monotonic()
        refused = chat(servers[0], "198.51.100.8")
        assert time.monotonic() - started < 5
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "budget_unavailable"
        assert len(upstream.records) - sent_before == 4
        assert "budget_unavailable" in servers[0].output()
    finally:
        for server in servers:
            server.stop()


@pytest.mark.parametrize(("field", "content_lines"), [(None, 20), ("max_completion_tokens", 100)])
def test_the_default_cap_field_reaches_a_server_that_reads_only_max_tokens(
    make_app, field, content_lines
):
    # llama-cpp-python's server reads max_tokens and ignores max_completion_tokens; this
    # fake does the same. The second case shows the fake really ignores the other field.
    with FakeUpstream() as fake:
        words = [f"w{i} " for i in range(100)]
        fake.script = Script(payloads=reply_payloads("chatcmpl-cap", words), honours="max_tokens")
        settings = {"MAX_TOKENS_FIELD": field} if field else {}
        app = make_app(OPENAI_BASE_URL=fake.base_url, MAX_OUTPUT_TOKENS="20", **settings)
        body = app.test_client().post("/api/chat", json=CHAT).get_data()
    assert body.count(b'"content":"w') == content_lines
