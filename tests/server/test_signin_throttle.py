"""Throttled guessing under real gunicorn with 2 workers: with the default storage the
workers count failed sign-ins together (the machine's SQLite file). What happens when the
store is down: tests/server/test_shared_state.py."""

from __future__ import annotations

import json

import httpx2

from tests.support.launch import RunningServer, start_gunicorn
from tests.support.signin import password_settings


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
