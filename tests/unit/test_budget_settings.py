"""Token budget settings: the notation, malformed values stopping start-up, off by
default, the output cap and the field it is sent in, and where the count is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamchat.settings import SettingsError, load_settings
from streamchat.settings.budgets import BudgetSetting
from tests.support.budgets import reply, sse_handler


@pytest.mark.parametrize(
    ("value", "amount", "seconds"),
    [("100000/day", 100000, 86400), ("300/hour", 300, 3600), ("500 per 2 hours", 500, 7200)],
)
def test_budgets_take_flask_limiters_notation(value, amount, seconds):
    settings = load_settings({"TOKEN_BUDGET": value, "GLOBAL_TOKEN_BUDGET": value})
    assert settings.token_budget == BudgetSetting(value, amount, seconds)
    assert settings.global_token_budget == BudgetSetting(value, amount, seconds)


@pytest.mark.parametrize("value", ["lots", "100", "0/day", "10/day;20/hour", "-5/day"])
def test_a_malformed_budget_stops_start_up_naming_the_variable(value):
    with pytest.raises(SettingsError, match="TOKEN_BUDGET must look like"):
        load_settings({"TOKEN_BUDGET": value})


def test_budgets_are_off_by_default(make_app):
    settings = load_settings({})
    assert settings.token_budget is None and settings.global_token_budget is None
    client = make_app(sse_handler()).test_client()
    assert client.get("/api/budget").json == dict.fromkeys(
        ("limit", "used", "remaining", "resets_in_seconds", "period_seconds")
    )
    response = reply(client)
    assert "X-Token-Budget-Remaining" not in response.headers


@pytest.mark.parametrize(
    ("base_url", "field"),
    [
        (None, "max_completion_tokens"),
        ("https://api.openai.com/v1", "max_completion_tokens"),
        ("https://team.openai.azure.com/openai/v1/", "max_completion_tokens"),
        ("https://team.cognitiveservices.azure.com/openai/v1/", "max_completion_tokens"),
        ("http://127.0.0.1:11434/v1", "max_tokens"),
        ("http://localhost:8000/v1", "max_tokens"),
        ("https://api.openai.com.example.net/v1", "max_tokens"),
    ],
)
def test_the_auto_cap_field_follows_the_upstream_host(base_url, field):
    source = {"OPENAI_BASE_URL": base_url} if base_url else {}
    assert load_settings(source).max_tokens_field == field


def test_an_explicit_cap_field_is_kept():
    source = {"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}
    field = "max_completion_tokens"
    assert load_settings({**source, "MAX_TOKENS_FIELD": field}).max_tokens_field == field
    with pytest.raises(SettingsError, match="MAX_TOKENS_FIELD"):
        load_settings({"MAX_TOKENS_FIELD": "max_length"})


def test_budgets_refuse_a_storage_they_cannot_use(make_app):
    with pytest.raises(SettingsError, match="Token budgets keep their counts in SQLite"):
        make_app(TOKEN_BUDGET="10/day", RATELIMIT_STORAGE_URI="memcached://127.0.0.1:11211")


def test_by_default_the_count_lives_in_the_instance_folder(make_app, tmp_path):
    app = make_app(TOKEN_BUDGET="10/day", SQLITE_PATH="")
    database = app.extensions["streamchat"].budgets.store.database
    assert database.path == Path(app.instance_path) / "streamchat.sqlite3"
    app = make_app(TOKEN_BUDGET="10/day", SQLITE_PATH=str(tmp_path / "elsewhere.db"))
    assert app.extensions["streamchat"].budgets.store.database.path == tmp_path / "elsewhere.db"


def test_budgets_need_an_output_cap(make_app):
    with pytest.raises(SettingsError, match="MAX_OUTPUT_TOKENS must be above 0"):
        make_app(TOKEN_BUDGET="300/hour", MAX_OUTPUT_TOKENS="0")
