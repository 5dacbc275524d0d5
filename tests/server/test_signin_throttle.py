"""Throttled guessing under real gunicorn with 2 workers: with the default storage the
workers count failed sign-ins together (the machine's SQLite file), and a browser that
signed in before (its device cookie) is not locked out by guesses from elsewhere. What
happens when the store is down: tests/server/test_shared_state.py."""

from __future__ import annotations

import json

import httpx2

from streamchat.identity.devices import DEVICE_COOKIE
from tests.support.launch import RunningServer, start_gunicorn
from tests.support.signin import (
    OTHER_PASSWORD,
    OTHER_USER,
    TEST_PASSWORD,
    TEST_USER,
    password_settings,
)


def wrong_password(server: RunningServer, name: str) -> httpx2.Response:
    """One failed sign-in, on a new connection, so either worker may take it."""
    return httpx2.post(
        server.url + "/login",
        data={"username": name, "password": "not-the-password-1"},
        headers={"Connection": "close"},
        timeout=30,
    )


def pid_of(server: RunningServer, response: httpx2.Response) -> int:
    for line in server.output().splitlines():
        if line.startswith("{") and response.headers["X-Request-ID"] in line:
            return json.loads(line)["pid"]
    raise AssertionError("no log line for the request")


def refused_by_both_workers(server: RunningServer, answered: list[httpx2.Response]) -> None:
    """More wrong passwords until both workers have answered: each must refuse."""
    for _ in range(30):
        if len({pid_of(server, r) for r in answered}) == 2:
            return
        answered.append(wrong_password(server, "late"))
        assert answered[-1].status_code == 429
    raise AssertionError("one worker answered every request")


def test_the_workers_of_one_machine_count_failed_sign_ins_together():
    server = start_gunicorn(WEB_CONCURRENCY="2", **password_settings())
    try:
        answered = [wrong_password(server, f"guess{i}") for i in range(11)]
        assert [r.status_code for r in answered] == [401] * 10 + [429]
        assert 1 <= int(answered[-1].headers["Retry-After"]) <= 15 * 60
        refused_by_both_workers(server, answered)
    finally:
        server.stop()


def login(server: RunningServer, address: str, password: str, device: str | None = None):
    """alice's sign-in from ``address`` (X-Forwarded-For, TRUSTED_PROXY_COUNT=1), with
    or without a device cookie, on a new connection."""
    cookies = {DEVICE_COOKIE: device} if device else None
    return httpx2.post(
        server.url + "/login",
        data={"username": TEST_USER, "password": password},
        headers={"X-Forwarded-For": address, "Connection": "close"},
        cookies=cookies,
        timeout=30,
    )


def test_a_flood_of_wrong_passwords_does_not_lock_alice_out_of_her_own_browser():
    server = start_gunicorn(WEB_CONCURRENCY="2", TRUSTED_PROXY_COUNT="1", **password_settings())
    try:
        first = login(server, "192.0.2.1", TEST_PASSWORD)
        assert first.status_code == 303
        device = first.cookies[DEVICE_COOKIE]
        # Ten wrong passwords for alice from ten addresses: the name is now locked.
        flood = [login(server, f"198.51.100.{i}", "not-the-password-1") for i in range(1, 11)]
        assert [r.status_code for r in flood] == [401] * 10
        # alice's browser, from yet another address: signed in.
        own = login(server, "203.0.113.7", TEST_PASSWORD, device)
        assert own.status_code == 303 and own.headers["Location"] == "/"
        assert "session=" in own.headers["Set-Cookie"]
        # A new browser (no device cookie) with the right password: still throttled.
        fresh = login(server, "203.0.113.8", TEST_PASSWORD)
        assert fresh.status_code == 429 and int(fresh.headers["Retry-After"]) > 0
        # Another user's device cookie, or a forged one, is no device of alice's.
        forged = device[:-3] + ("AAA" if not device.endswith("AAA") else "BBB")
        assert login(server, "203.0.113.9", TEST_PASSWORD, forged).status_code == 429
        bobs = httpx2.post(
            server.url + "/login",
            data={"username": OTHER_USER, "password": OTHER_PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.10", "Connection": "close"},
        ).cookies[DEVICE_COOKIE]
        assert login(server, "203.0.113.10", TEST_PASSWORD, bobs).status_code == 429
    finally:
        server.stop()
