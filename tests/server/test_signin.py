"""Password sign-in end to end, under real gunicorn with 2 gevent workers, with the user
and the token made by the real CLI exactly as docs/sign-in.md says: the gate, the form,
sign-out, API tokens, cross-site refusal, throttled guessing, and no secret on any page
or in the log."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx2
import pytest

from tests.support.environment import ROOT, TEST_API_KEY, server_env
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import chat_body, reply_payloads
from tests.support.redis_server import start_redis
from tests.support.signin import TEST_SECRET_KEY

PASSWORD = "test-password-not-real-42"
FLASK = str(Path(ROOT) / ".venv/bin/flask")
CHAT = chat_body("hi")


def cli(*args: str, given: str = "") -> list[str]:
    """``flask --app app ...`` as docs/sign-in.md runs it; its standard output's lines."""
    done = subprocess.run(
        [FLASK, "--app", "app", *args],
        cwd=ROOT,
        env=server_env(),
        input=given,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def deployment():
    (user_entry,) = cli("create-user", "alice", given=f"{PASSWORD}\n{PASSWORD}\n")
    token, token_entry = cli("create-token", "ci")
    redis_url, redis = start_redis()
    with FakeUpstream() as upstream:
        upstream.script = Script(payloads=reply_payloads("chatcmpl-signin", ["signed", " in"]))
        server = start_gunicorn_against(
            upstream.base_url,
            WEB_CONCURRENCY="2",
            AUTH="password",
            SECRET_KEY=TEST_SECRET_KEY,
            AUTH_USERS=user_entry,
            API_TOKENS=token_entry,
            RATELIMIT_STORAGE_URI=redis_url,
        )
        try:
            yield server, upstream, token, user_entry
        finally:
            output = server.stop()
            redis.terminate()
            redis.wait(10)
            for secret in (PASSWORD, token, TEST_SECRET_KEY, TEST_API_KEY):
                assert secret not in output


def test_sign_in_sign_out_tokens_and_throttling_hold_across_two_workers(deployment):
    server, upstream, token, user_entry = deployment
    pages = []
    with httpx2.Client(base_url=server.url, timeout=30) as http:
        # Anonymous: the page goes to /login; the API gets 401 and the upstream nothing.
        visit = http.get("/")
        assert visit.status_code == 303 and visit.headers["location"].startswith("/login")
        refused = http.post("/api/chat", json=CHAT)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["error"]["code"] == "unauthenticated"
        assert upstream.records == []
        pages.append(http.get("/login").text)

        # A wrong password signs nobody in.
        wrong = http.post("/login", data={"username": "alice", "password": "wrong-password-1"})
        assert wrong.status_code == 401 and "session" not in wrong.cookies
        pages.append(wrong.text)
        assert http.get("/").status_code == 303

        # The right one leads to a streamed reply; the cookie is HttpOnly and Lax.
        right = http.post("/login", data={"username": "alice", "password": PASSWORD})
        assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        page = http.get("/")
        assert page.status_code == 200 and "Signed in as alice" in page.text
        pages.append(page.text)
        with http.stream("POST", "/api/chat", json=CHAT) as reply:
            assert reply.status_code == 200
            body = "".join(reply.iter_text())
        assert '"content":" in"' in body and len(upstream.records) == 1

        # Sign-out ends the session.
        out = http.post("/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert http.get("/").status_code == 303
        assert http.post("/api/chat", json=CHAT).status_code == 401

    # The token works; a made-up one gets 401.
    bearer = {"Authorization": f"Bearer {token}"}
    made_up = {"Authorization": "Bearer sc_made-up-token-that-nobody-issued-000000000"}
    assert httpx2.post(server.url + "/api/chat", json=CHAT, headers=bearer).status_code == 200
    assert httpx2.post(server.url + "/api/chat", json=CHAT, headers=made_up).status_code == 401

    # A cross-site sign-in post gets 403, even with the right password.
    cross = httpx2.post(
        server.url + "/login",
        data={"username": "alice", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403

    # The 11th wrong password from one address within 15 minutes gets 429, whichever of
    # the two workers answers (one wrong one above already counted).
    codes = [
        httpx2.post(server.url + "/login", data={"username": f"u{i}", "password": "x" * 12})
        for i in range(10)
    ]
    assert [c.status_code for c in codes] == [401] * 9 + [429]
    assert int(codes[-1].headers["retry-after"]) > 0

    # No key material on any sign-in page.
    for text in pages:
        for secret in (PASSWORD, token, TEST_SECRET_KEY, TEST_API_KEY, user_entry):
            assert secret not in text
