"""Conversations through real gunicorn (two workers) on SQLite and on a real PostgreSQL:
the schema made by the migrations from an empty database, every route, a reply stored
after its reader left, and a stopped reply stored as stopped."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx2
import pytest
import sqlalchemy

from tests.support.environment import ROOT, server_env
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import counted_reply
from tests.support.signin import TEST_PASSWORD, TEST_USER, password_settings
from tests.support.waiting import wait_for

pytestmark = pytest.mark.server

REPLY = counted_reply("chatcmpl-conv", prompt=5, completion=40)
WHOLE_REPLY = "".join(f"w{i} " for i in range(40))


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        fake.script = Script(payloads=REPLY, interval=0.05)
        yield fake


@pytest.fixture
def server(upstream, database_url):
    running = start_gunicorn_against(
        upstream.base_url,
        WEB_CONCURRENCY="2",
        RUN_GRACE_SECONDS="30",
        DATABASE_URL=database_url,
        **password_settings(),
    )
    yield running
    running.stop()


@pytest.fixture
def alice(server):
    with httpx2.Client(base_url=server.url, timeout=30) as client:
        signed_in = client.post("/login", data={"username": TEST_USER, "password": TEST_PASSWORD})
        assert signed_in.status_code == 303
        yield client


def turn(client: httpx2.Client, conversation_id: str, lines_to_read: int) -> str:
    """Send a turn, read ``lines_to_read`` lines of its reply, hang up: the run id."""
    body = {"conversation_id": conversation_id, "messages": [{"role": "user", "content": "hi"}]}
    with client.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        for _ in range(lines_to_read):
            next(lines)
        return response.headers["X-Run-ID"]


def stored(client: httpx2.Client, conversation_id: str) -> dict:
    return client.get(f"/api/conversations/{conversation_id}").json()


def test_the_migrations_make_the_schema_from_an_empty_database(tmp_path, request):
    urls = [f"sqlite:///{tmp_path}/empty.db"]
    postgres = request.getfixturevalue("postgres")
    import psycopg

    with psycopg.connect(
        postgres.url().replace("postgres://", "postgresql://"), autocommit=True
    ) as c:
        c.execute('CREATE DATABASE "empty_for_migrations"')
    urls.append(postgres.url("empty_for_migrations"))
    for url in urls:
        env = server_env(DATABASE_URL=url)
        for _ in range(2):  # and once more: nothing left to do
            done = subprocess.run(
                [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                cwd=ROOT,
                env={**env, "PATH": os.environ["PATH"]},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
        engine = sqlalchemy.create_engine(url.replace("postgres://", "postgresql+psycopg://"))
        tables = set(sqlalchemy.inspect(engine).get_table_names())
        engine.dispose()
        assert {"conversations", "messages", "alembic_version"} <= tables, url


def test_every_route(alice):
    made = [alice.post("/api/conversations", json={"title": f"t{i}"}).json() for i in range(5)]
    first = alice.get("/api/conversations", params={"limit": 2}).json()
    second = alice.get("/api/conversations", params={"limit": 3, "before": first["next"]}).json()
    titles = [c["title"] for c in first["conversations"] + second["conversations"]]
    assert titles == ["t4", "t3", "t2", "t1", "t0"] and second["next"] is None
    target = made[0]["id"]
    assert alice.patch(f"/api/conversations/{target}", json={"title": "kept"}).status_code == 200
    assert (
        alice.get("/api/conversations", params={"limit": 1}).json()["conversations"][0]["title"]
        == "kept"
    )
    export = alice.get(f"/api/conversations/{target}/export", params={"format": "json"})
    assert export.json()["title"] == "kept"
    assert alice.delete(f"/api/conversations/{made[1]['id']}").status_code == 204
    assert alice.get(f"/api/conversations/{made[1]['id']}").status_code == 404
    assert len(alice.get("/api/conversations").json()["conversations"]) == 4


def test_a_reply_is_stored_after_its_reader_left(alice, upstream):
    conversation = alice.post("/api/conversations", json={}).json()["id"]
    run_id = turn(alice, conversation, lines_to_read=2)
    # Still streaming, with no reader: the conversation names its run meanwhile.
    assert stored(alice, conversation)["run_id"] == run_id
    finished = wait_for(lambda: stored(alice, conversation)["run_id"] is None, 15)
    assert finished
    _user, reply = stored(alice, conversation)["messages"]
    assert (reply["state"], reply["content"]) == ("done", WHOLE_REPLY)
    assert reply["usage"]["completion_tokens"] == 40


def test_a_stopped_reply_is_stored_as_stopped(alice, upstream):
    upstream.script = Script(payloads=REPLY, interval=0.2)
    conversation = alice.post("/api/conversations", json={}).json()["id"]
    run_id = turn(alice, conversation, lines_to_read=3)
    assert alice.post(f"/api/runs/{run_id}/stop").status_code == 202
    assert wait_for(lambda: stored(alice, conversation)["run_id"] is None, 10)
    reply = stored(alice, conversation)["messages"][1]
    assert reply["state"] == "stopped"
    assert reply["content"].startswith("w0 ") and len(reply["content"]) < len(WHOLE_REPLY)
