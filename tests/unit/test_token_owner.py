"""Tokens that belong to someone: ``create-token NAME --user alice`` makes a token that is
alice (one budget count with her password session, her runs); a token without a user
stays its own identity; a token for nobody is refused at start-up."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from streamchat.identity.cli import create_token
from streamchat.settings import SettingsError
from tests.support.budgets import REPLY, reply, sse_handler
from tests.support.signin import api_token, password_settings, sign_in


def token_for(user: str | None) -> tuple[str, str]:
    """(a token, its API_TOKENS entry) from the real command."""
    args = ["alices-laptop"] + (["--user", user] if user else [])
    result = CliRunner().invoke(create_token, args)
    assert result.exit_code == 0, result.output
    token, entry = result.output.split()
    return token, entry


@pytest.fixture
def alices_token(make_app):
    token, entry = token_for("alice")
    assert entry.endswith(":alice")
    settings = password_settings(TOKEN_BUDGET="1000/hour", RUN_KEEP_SECONDS="60")
    settings["API_TOKENS"] += "," + entry
    return make_app(sse_handler(REPLY), **settings), {"Authorization": f"Bearer {token}"}


def test_a_token_made_for_alice_spends_alices_budget(alices_token):
    app, bearer = alices_token
    session = app.test_client()
    assert sign_in(session).status_code == 303
    assert reply(session).status_code == 200  # 72 tokens by alice's password session
    program = app.test_client()
    response = program.post(
        "/api/chat", json={"messages": [{"role": "user", "content": "hi"}]}, headers=bearer
    )
    response.get_data()
    assert response.status_code == 200  # 72 more by her token
    assert session.get("/api/budget").json["used"] == 144
    assert program.get("/api/budget", headers=bearer).json["used"] == 144
    # The ``ci`` token (no user) is its own identity: nothing spent.
    ci = {"Authorization": f"Bearer {api_token()[0]}"}
    assert app.test_client().get("/api/budget", headers=ci).json["used"] == 0


def test_a_token_made_for_alice_reads_alices_runs(alices_token):
    app, bearer = alices_token
    session = app.test_client()
    sign_in(session)
    started = reply(session)
    run_id = started.headers["X-Run-ID"]
    resumed = app.test_client().get(f"/api/runs/{run_id}?after=0", headers=bearer)
    assert resumed.status_code == 200 and resumed.get_data() == started.get_data()
    ci = {"Authorization": f"Bearer {api_token()[0]}"}
    assert app.test_client().get(f"/api/runs/{run_id}?after=0", headers=ci).status_code == 404


def test_a_token_for_someone_who_is_not_a_user_stops_start_up(make_app):
    _, entry = token_for("mallory")
    settings = password_settings()
    settings["API_TOKENS"] += "," + entry
    with pytest.raises(SettingsError, match="belongs to mallory"):
        make_app(sse_handler(REPLY), **settings)
