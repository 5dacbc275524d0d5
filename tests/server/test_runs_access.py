"""Who may read and stop a run, and from where: another person's run id is the same 404
as an unknown one (on resume and stop), an anonymous caller gets 401 with AUTH set, and
two instances sharing a real Redis resume and stop each other's runs."""

from __future__ import annotations

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionChunk

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import CHAT, counted_reply
from tests.support.signin import api_token, password_settings
from tests.support.waiting import wait_for

pytestmark = pytest.mark.server

REPLY = counted_reply("chatcmpl-access", prompt=5, completion=30)


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        fake.script = Script(payloads=REPLY, interval=0.1)
        yield fake


def start_run(url: str, headers: dict[str, str] | None = None) -> tuple[str, bytes]:
    """POST a chat, read its first line, hang up: (run id, that line)."""
    with (
        httpx2.Client(timeout=30) as http,
        http.stream(
            "POST", url + "/api/chat", json=CHAT, headers={"Connection": "close", **(headers or {})}
        ) as response,
    ):
        assert response.status_code == 200, response.read()
        first = next(line for line in response.iter_lines() if line)
        return response.headers["X-Run-ID"], first.encode() + b"\n"


def test_another_persons_run_is_a_404_and_nobody_gets_a_401(upstream):
    server = start_gunicorn_against(
        upstream.base_url, WEB_CONCURRENCY="2", RUN_GRACE_SECONDS="30", **password_settings()
    )
    try:
        # The ci token's run; alice, signed in with her password, is someone else.
        token = {"Authorization": f"Bearer {api_token()[0]}"}
        run_id, _ = start_run(server.url, token)
        alice = httpx2.Client(base_url=server.url, timeout=30)
        signed_in = alice.post(
            "/login", data={"username": "alice", "password": "test-password-not-real"}
        )
        assert signed_in.status_code == 303
        hers = [alice.get(f"/api/runs/{run_id}", params={"after": 0}) for _ in range(4)]
        her_stop = alice.post(f"/api/runs/{run_id}/stop")
        nobody = httpx2.get(f"{server.url}/api/runs/{run_id}", timeout=30)
        nobody_stop = httpx2.post(f"{server.url}/api/runs/{run_id}/stop", timeout=30)
        owner = httpx2.get(f"{server.url}/api/runs/{run_id}", headers=token, timeout=30)
    finally:
        server.stop()
    for response in [*hers, her_stop]:  # whichever worker answered
        assert (response.status_code, response.json()["error"]["code"]) == (404, "run_not_found")
    assert (nobody.status_code, nobody_stop.status_code) == (401, 401)
    assert owner.status_code == 200 and owner.content.endswith(REPLY[-1] + b"\n")
    assert all(record.peer_closed is None or record.finished for record in upstream.records)


@pytest.mark.parametrize("setting", ["REDIS_URL", "RATELIMIT_STORAGE_URI"])
def test_two_instances_resume_and_stop_each_others_runs_through_redis(upstream, redis, setting):
    url, _ = redis
    first, second = (
        start_gunicorn_against(
            upstream.base_url, RUN_GRACE_SECONDS="30", SQLITE_PATH=str(folder), **{setting: url}
        )
        for folder in ("/tmp/streamchat-instance-a/c.db", "/tmp/streamchat-instance-b/c.db")
    )
    try:
        run_id, head = start_run(first.url)
        rest = httpx2.get(f"{second.url}/api/runs/{run_id}", params={"after": 1}, timeout=30)
        whole = httpx2.get(f"{first.url}/api/runs/{run_id}", params={"after": 0}, timeout=30)
        # A second run, stopped from the other instance while being read there.
        upstream.script = Script(payloads=REPLY, interval=0.3)
        stopped_id, _ = start_run(first.url)
        stop = httpx2.post(f"{second.url}/api/runs/{stopped_id}/stop", timeout=30)
        assert wait_for(lambda: upstream.records[-1].peer_closed is not None, 3)
        unknown = httpx2.get(f"{second.url}/api/runs/{run_id[:-4]}AAAA", timeout=30)
    finally:
        first.stop()
        second.stop()
    assert rest.status_code == 200
    assert head + rest.content == whole.content == b"".join(p + b"\n" for p in REPLY)
    assert stop.status_code == 202
    assert unknown.status_code == 404


def test_the_python_sdk_reads_a_resumed_sse_body(upstream):
    server = start_gunicorn_against(upstream.base_url, WEB_CONCURRENCY="1", RUN_GRACE_SECONDS="30")
    try:
        run_id, _ = start_run(server.url)
        # The official Python SDK pointed at the resume route: its Stream parses the SSE.
        client = openai.OpenAI(api_key="unused-by-streamchat", base_url=server.url + "/api")
        stream = client.get(
            f"/runs/{run_id}",
            cast_to=ChatCompletionChunk,
            options={"headers": {"Accept": "text/event-stream", "Last-Event-ID": "1"}},
            stream=True,
            stream_cls=openai.Stream[ChatCompletionChunk],
        )
        chunks = list(stream)
    finally:
        server.stop()
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(f"w{i} " for i in range(30))  # every word: line 1 was the role
    assert chunks[-1].usage.total_tokens == 35
