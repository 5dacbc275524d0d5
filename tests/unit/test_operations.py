"""Operating it, in one process: health and readiness, and every setting documented.
Through real servers (config checked at start, .env): tests/server/test_operations.py."""

from __future__ import annotations

import httpx2
import pytest

# --- health and readiness -------------------------------------------------------------


def models_handler(status: int, calls: list):
    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(request.url.path)
        if status == 0:
            raise httpx2.ConnectError("refused")
        return httpx2.Response(status, json={"object": "list", "data": []})

    return handler


def test_healthz_is_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("status", "expected", "reason"),
    [
        (200, 200, None),
        (404, 200, None),  # answered: this server just has no /models
        (401, 503, "upstream_auth"),
        (403, 503, "upstream_auth"),
        (0, 503, "upstream_unreachable"),
    ],
)
def test_readyz_asks_the_upstream(make_app, status, expected, reason):
    calls: list = []
    client = make_app(models_handler(status, calls)).test_client()
    response = client.get("/readyz")
    assert response.status_code == expected
    assert response.get_json().get("reason") == reason
    assert calls == ["/v1/models"]


def test_readyz_answer_is_cached(make_app):
    calls: list = []
    client = make_app(models_handler(200, calls), READY_CACHE_SECONDS="60").test_client()
    assert [client.get("/readyz").status_code for _ in range(5)] == [200] * 5
    assert len(calls) == 1
    uncached = make_app(models_handler(200, calls := []), READY_CACHE_SECONDS="0").test_client()
    for _ in range(3):
        uncached.get("/readyz")
    assert len(calls) == 3


def test_readyz_on_the_demo_model_needs_no_upstream(client):
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_readyz_is_503_while_shutting_down(make_app):
    calls: list = []
    app = make_app(models_handler(200, calls))
    app.extensions["streamchat"].streams.draining = True
    response = app.test_client().get("/readyz")
    assert (response.status_code, response.get_json()["reason"]) == (503, "shutting_down")


def test_health_routes_are_not_rate_limited(make_app):
    client = make_app(models_handler(200, []), RATE_LIMIT="1/minute").test_client()
    assert {client.get("/healthz").status_code for _ in range(5)} == {200}


# --- every setting documented ---------------------------------------------------------
