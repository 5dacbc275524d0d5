"""The sign-in audit trail under real gunicorn (2 workers), read from the server's own
output: one JSON line per failed attempt, sign-in, sign-out and lockout, with the client
address, the user only when it is a real user's name, and a hash of the session cookie.
A password typed into the name field (a common slip) must appear in no log line."""

from __future__ import annotations

import hashlib
import json

import httpx2

from tests.support.launch import RunningServer, start_gunicorn
from tests.support.signin import TEST_PASSWORD, TEST_USER, password_settings
from tests.support.waiting import wait_for

# Shaped like a password a user might type into the name field by mistake.
PASSWORD_AS_NAME = "Tr0ub4dor-and-3-not-real"
ADDRESS = "198.51.100.20"


def post(server: RunningServer, path: str, data: dict | None = None, cookies=None):
    return httpx2.post(
        server.url + path,
        data=data,
        cookies=cookies,
        headers={"X-Forwarded-For": ADDRESS, "Connection": "close"},
        timeout=30,
    )


def audit_lines(server: RunningServer) -> list[dict]:
    lines = [json.loads(x) for x in server.output().splitlines() if x.startswith("{")]
    return [line for line in lines if line.get("logger") == "streamchat.audit"]


def test_sign_in_events_are_logged_without_secrets():
    server = start_gunicorn(WEB_CONCURRENCY="2", TRUSTED_PROXY_COUNT="1", **password_settings())
    try:
        typo = post(server, "/login", {"username": PASSWORD_AS_NAME, "password": "x" * 12})
        assert typo.status_code == 401
        wrong = post(server, "/login", {"username": TEST_USER, "password": "not-the-password-1"})
        assert wrong.status_code == 401
        signed_in = post(server, "/login", {"username": TEST_USER, "password": TEST_PASSWORD})
        assert signed_in.status_code == 303
        cookie = signed_in.cookies["session"]
        assert post(server, "/logout", cookies={"session": cookie}).status_code == 303
        for _ in range(8):  # up to the address's 10th failure, then a refusal
            post(server, "/login", {"username": PASSWORD_AS_NAME, "password": "y" * 12})
        locked = post(server, "/login", {"username": PASSWORD_AS_NAME, "password": "y" * 12})
        assert locked.status_code == 429
        lines = wait_for(lambda: (found := audit_lines(server)) and len(found) >= 13 and found)
        output = server.output()
    finally:
        server.stop()
    events = [line["event"] for line in lines]
    assert events == ["sign_in_failed"] * 2 + ["sign_in", "sign_out"] + ["sign_in_failed"] * 8 + [
        "sign_in_locked_out"
    ]
    assert all(line["address"] == ADDRESS for line in lines)
    assert [line["user"] for line in lines[:4]] == ["unknown", TEST_USER, TEST_USER, TEST_USER]
    assert lines[-1]["user"] == "unknown" and lines[-1]["limit"] == "address"
    # The sign-in names the session it made, the sign-out the one it ended: the same one,
    # by a hash of its id (never the id, never the cookie).
    named = lines[2]["session"]
    assert named == lines[3]["session"] and len(named) == 16
    assert named != hashlib.sha256(cookie.encode()).hexdigest()[:16]
    for secret in (PASSWORD_AS_NAME, TEST_PASSWORD, cookie, "not-the-password-1"):
        assert secret not in output
