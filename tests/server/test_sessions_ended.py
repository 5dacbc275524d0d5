"""Ending a session through real gunicorn: after sign-out the old cookie is refused by
either worker within a second, and by a second instance sharing the database (a real
PostgreSQL), the way a stolen cookie would be tried."""

from __future__ import annotations

import time

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream
from tests.support.launch import start_gunicorn_against
from tests.support.signin import TEST_PASSWORD, TEST_USER, password_settings

pytestmark = pytest.mark.server


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        yield fake


def signed_in_cookie(url: str) -> str:
    response = httpx2.post(
        url + "/login", data={"username": TEST_USER, "password": TEST_PASSWORD}, timeout=30
    )
    assert response.status_code == 303
    return response.cookies["session"]


def answers(url: str, cookie: str, times: int = 8) -> list[int]:
    """``/api/budget`` with ``cookie``, each on a new connection (so both workers answer)."""
    return [
        httpx2.get(
            url + "/api/budget", headers={"Cookie": f"session={cookie}", "Connection": "close"}
        ).status_code
        for _ in range(times)
    ]


def sign_out(url: str, cookie: str) -> None:
    response = httpx2.post(url + "/logout", headers={"Cookie": f"session={cookie}"}, timeout=30)
    assert response.status_code == 303


def answers_a_second_later(url: str, cookie: str, signed_out_at: float) -> list[int]:
    """What every worker answers ``cookie`` once a second (the promise) has passed since
    the sign-out: each worker may have read the session just before it."""
    time.sleep(max(0.0, signed_out_at + 1.05 - time.monotonic()))
    return answers(url, cookie)


def test_after_sign_out_either_worker_refuses_the_old_cookie(upstream, database_url):
    server = start_gunicorn_against(
        upstream.base_url, WEB_CONCURRENCY="2", DATABASE_URL=database_url, **password_settings()
    )
    try:
        cookie = signed_in_cookie(server.url)
        assert set(answers(server.url, cookie)) == {200}
        sign_out(server.url, cookie)
        later = answers_a_second_later(server.url, cookie, time.monotonic())
    finally:
        server.stop()
    assert later == [401] * len(later)


def test_a_second_instance_sharing_postgresql_refuses_it_too(upstream, postgres):
    database = postgres.database()
    first, second = (
        start_gunicorn_against(upstream.base_url, DATABASE_URL=database, **password_settings())
        for _ in range(2)
    )
    try:
        cookie = signed_in_cookie(first.url)
        assert set(answers(second.url, cookie, 3)) == {200}  # one session, both instances
        sign_out(first.url, cookie)
        later = answers_a_second_later(second.url, cookie, time.monotonic())
    finally:
        first.stop()
        second.stop()
    assert later == [401] * len(later)
