"""The shared-state layer's one policy when its store is down, the same for both
backends and both users of it: a request that needs the store is refused with a 503 and
Retry-After (budgets: budget_unavailable; sign-in: sign_in_unavailable), nothing reaches
the upstream, the log says why, and requests that do not need the store still work."""

from __future__ import annotations

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import chat_body, reply_payloads
from tests.support.signin import TEST_PASSWORD, TEST_USER, api_token, password_settings

pytestmark = pytest.mark.server


def _store_down(backend: str, redis, tmp_path) -> tuple[dict[str, str], object]:
    """The setting that names a store, and a way to take it down once the server runs."""
    if backend == "redis":
        url, process = redis

        def stop() -> None:
            process.terminate()
            process.wait(10)

        return {"REDIS_URL": url}, stop
    # A folder where the file should be: SQLite cannot open it, now or later.
    return {"SQLITE_PATH": str(tmp_path)}, lambda: None


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_store_that_is_down_refuses_budgets_and_sign_in_alike(backend, redis, tmp_path):
    store, take_down = _store_down(backend, redis, tmp_path)
    with FakeUpstream() as upstream:
        upstream.script = Script(payloads=reply_payloads("chatcmpl-state", ["ok"]))
        server = start_gunicorn_against(
            upstream.base_url,
            WEB_CONCURRENCY="2",
            TOKEN_BUDGET="100000/day",
            **store,
            **password_settings(),
        )
        try:
            take_down()
            bearer = {"Authorization": f"Bearer {api_token()[0]}"}
            chat = httpx2.post(server.url + "/api/chat", json=chat_body("hi"), headers=bearer)
            signin = httpx2.post(
                server.url + "/login", data={"username": TEST_USER, "password": TEST_PASSWORD}
            )
            health = httpx2.get(server.url + "/healthz")
            output = server.output()
        finally:
            server.stop()
        assert upstream.records == []  # nothing spent unchecked
    assert (chat.status_code, chat.json()["error"]["code"]) == (503, "budget_unavailable")
    assert chat.headers["Retry-After"] == "5"
    assert signin.status_code == 503  # not a guess-anyway 303, not a 500
    assert signin.headers["Retry-After"] == "5"
    assert "unavailable for a moment" in signin.text
    assert health.status_code == 200
    assert f'"backend": "{backend}"' in output
    assert "shared_state_unavailable" in output
