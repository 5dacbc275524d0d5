"""Several instances: two real servers share one rate-limit count through a real Redis,
named by REDIS_URL or by the older RATELIMIT_STORAGE_URI."""

from __future__ import annotations

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import chat_body, reply_payloads

LIMIT = 4
CHAT = chat_body("hi")


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream() as fake:
        fake.script = Script(payloads=reply_payloads("chatcmpl-pair", ["ok"]))
        yield fake


def pair(upstream, **settings):
    return [
        start_gunicorn_against(upstream.base_url, RATE_LIMIT=f"{LIMIT}/minute", **settings)
        for _ in range(2)
    ]


def alternate(servers, count: int) -> list[int]:
    """``count`` requests from one client, alternating between the servers."""
    with httpx2.Client(timeout=30) as http:
        return [
            http.post(servers[i % 2].url + "/api/chat", json=CHAT).status_code for i in range(count)
        ]


@pytest.mark.parametrize("setting", ["REDIS_URL", "RATELIMIT_STORAGE_URI"])
def test_two_instances_share_one_rate_limit_through_redis(redis, upstream, setting):
    url, _ = redis
    servers = pair(upstream, **{setting: url})
    try:
        statuses = alternate(servers, LIMIT + 4)
    finally:
        for server in servers:
            server.stop()
    assert statuses == [200] * LIMIT + [429] * 4


def test_without_redis_each_instance_counts_alone(upstream):
    servers = pair(upstream)  # memory:// — the contrast that shows the shared count above
    try:
        statuses = alternate(servers, LIMIT + 4)
    finally:
        for server in servers:
            server.stop()
    assert statuses == [200] * (2 * LIMIT)


def test_redis_going_away_does_not_take_chat_down(redis, upstream):
    url, process = redis
    servers = pair(upstream, REDIS_URL=url)
    try:
        assert alternate(servers, 2) == [200, 200]
        process.terminate()
        process.wait(10)
        statuses = alternate(servers, 2)
    finally:
        for server in servers:
            server.stop()
    assert statuses == [200, 200]  # counted in each worker's memory meanwhile
