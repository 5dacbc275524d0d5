"""Token budgets in one process: the settings, the counter stores, the ledger's
reservations, and the API's refusals, caps, headers and log lines (the SDK's real
parsing on a fake transport). Several workers and instances: tests/test_budgets_server.py.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import sqlite3
import time
from pathlib import Path

import httpx2
import pytest

from streamchat.budgets import (
    BudgetExhausted,
    Budgets,
    ConversationOverBudget,
    estimate_input_tokens,
    tokens_counted,
)
from streamchat.budgets import ledger as ledger_module
from streamchat.budgets.ledger import _window
from streamchat.settings import SettingsError, load_settings
from streamchat.settings.budgets import BudgetSetting
from streamchat.state import MachineDatabase
from streamchat.state.machine_state import MachineState
from tests.support.payloads import (
    CHAT,
    chat_body,
    counted_reply,
    reply_payloads,
    responses_payloads,
    sse_body,
)

REPLY = counted_reply("chatcmpl-budget", prompt=12, completion=60)  # 72 tokens


def sse_handler(payloads=REPLY, done=True):
    def handler(request):
        body = sse_body(payloads, done=done)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return handler


@pytest.fixture
def budget_app(make_app):
    """``budget_app(payloads, **settings)``: the app answered by ``payloads``."""

    def build(payloads=REPLY, **settings):
        return make_app(sse_handler(payloads), **settings)

    return build


def sent_bodies(app) -> list[dict]:
    return [json.loads(request.content) for request in app.transport.requests]


def reply(client, body=CHAT):
    """POST a chat and read the stream to its end (so it is counted before the next)."""
    response = client.post("/api/chat", json=body)
    response.get_data()
    return response


def log_lines(caplog) -> list[dict]:
    """The access log's fields, one dict per request."""
    return [vars(r) for r in caplog.records if r.name == "streamchat.access"]


# --- settings --------------------------------------------------------------------------


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


# --- counting --------------------------------------------------------------------------


def test_reported_usage_is_counted_as_reported():
    assert tokens_counted({"total_tokens": 72}, 30, 9) == (72, "reported")
    assert tokens_counted({"input_tokens": 10, "output_tokens": 5}, 30, 9) == (15, "reported")
    assert tokens_counted({"prompt_tokens": 3, "completion_tokens": 4}, 30, 9) == (7, "reported")


def test_without_usage_the_estimate_is_input_characters_and_relayed_lines():
    messages = [{"role": "system", "content": "x" * 40}, {"role": "user", "content": "y" * 41}]
    assert estimate_input_tokens(messages) == 21 + 2 * 4  # ceil(81 / 4) + 4 per message
    assert tokens_counted(None, 29, 31) == (60, "estimated")
    assert tokens_counted({"prompt_tokens": 3}, 29, 31) == (60, "estimated")


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("你好世界" * 250, 1500 + 4),  # CJK: 3 bytes a character, 1.5 tokens
        ("\U00020000" * 1000, 2000 + 4),  # rare ideographs: 4 bytes, 2 tokens each
        ("Привет " * 100, 25 + 600 + 4),  # 100 spaces at 4 a token, 600 letters at 1
    ],
)
def test_text_beyond_ascii_is_not_estimated_at_four_characters_a_token(text, tokens):
    # Tokenizers give such text a token a character or more: at 4 characters a token a
    # conversation in Chinese, or of rare characters on purpose, would reserve a quarter.
    assert estimate_input_tokens([{"content": text}]) == tokens


def test_a_negative_reported_count_is_not_believed():
    assert tokens_counted({"total_tokens": -500}, 29, 31) == (60, "estimated")


# --- the SQLite store, shared by processes ----------------------------------------------


def _add_many(path: str, key: str, times: int) -> None:
    store = MachineState(MachineDatabase(Path(path)))
    for _ in range(times):
        store.add(3, {key: time.time() + 60, "everybody": time.time() + 60})


def test_workers_adding_at_once_lose_no_count(tmp_path):
    # Four processes, as four gunicorn workers, add 3 tokens 300 times each.
    path = str(tmp_path / "shared.sqlite3")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_many, args=(path, "k", 300)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    store = MachineState(MachineDatabase(tmp_path / "shared.sqlite3"))
    assert store.totals(["k", "everybody", "never"]) == [3600, 3600, 0]


def test_an_expired_window_counts_nothing(tmp_path):
    store = MachineState(MachineDatabase(tmp_path / "c.sqlite3"))
    assert store.add(50, {"old": time.time() - 1, "live": time.time() + 60}) == {
        "old": 50,
        "live": 50,
    }
    assert store.totals(["old", "live"]) == [0, 50]


# --- the ledger -------------------------------------------------------------------------


def ledger(tmp_path, person="300/hour", everybody=None) -> Budgets:
    def setting(text):
        return load_settings({"TOKEN_BUDGET": text}).token_budget if text else None

    store = MachineState(MachineDatabase(tmp_path / "l.sqlite3"))
    return Budgets(store, setting(person), setting(everybody))


def test_admission_reserves_the_cap_and_settling_counts_what_was_spent(tmp_path):
    budgets = ledger(tmp_path)
    admission = budgets.admit("alice", estimated_input=20, max_output=4096)
    assert (admission.output_cap, admission.reserved, admission.remaining) == (280, 300, 300)
    assert budgets.status("alice")["used"] == 300  # held while the reply runs
    budgets.settle(admission, 72)
    budgets.settle(admission, 72)  # once only
    assert budgets.status("alice")["used"] == 72
    assert budgets.status("bob")["used"] == 0


def test_replies_side_by_side_cannot_spend_the_same_remainder(tmp_path):
    budgets = ledger(tmp_path)
    first = budgets.admit("alice", estimated_input=20, max_output=100)
    second = budgets.admit("alice", estimated_input=20, max_output=100)
    assert (first.reserved, second.reserved) == (120, 120)
    with pytest.raises(BudgetExhausted) as refused:  # 60 left, and the input alone is 20...
        budgets.admit("alice", estimated_input=70, max_output=100)
    assert refused.value.scope == "person"
    third = budgets.admit("alice", estimated_input=20, max_output=100)
    assert third.output_cap == 40  # ...but a small request still fits what is left


def test_a_reply_is_not_sent_with_a_useless_cap(tmp_path):
    budgets = ledger(tmp_path)
    budgets.settle(budgets.admit("alice", 20, 4096), 264)  # 36 left: 20 in + 16 out fits
    assert budgets.admit("alice", 20, 4096).output_cap == 16
    budgets = ledger(tmp_path / "other")
    budgets.settle(budgets.admit("alice", 20, 4096), 265)  # 35 left: 15 out would not do
    with pytest.raises(BudgetExhausted) as refused:
        budgets.admit("alice", 20, 4096)
    assert refused.value.scope == "person"


class RacedCounters(MachineState):
    """A store in which another worker spends ``spent_between`` tokens between a read of
    the totals and the add that follows it."""

    def __init__(self, database, spent_between: int) -> None:
        super().__init__(database)
        self.spent_between = spent_between

    def totals(self, keys):
        found = super().totals(keys)
        if self.spent_between:
            spent, self.spent_between = self.spent_between, 0
            super().add(spent, dict.fromkeys(keys, time.time() + 3600))
        return found


@pytest.mark.parametrize(("spent_between", "cap"), [(150, 130), (280, None)])
def test_a_reply_admitted_elsewhere_meanwhile_shrinks_or_refuses_this_one(
    tmp_path, spent_between, cap
):
    setting = load_settings({"TOKEN_BUDGET": "300/hour"}).token_budget
    store = RacedCounters(MachineDatabase(tmp_path / "r.sqlite3"), spent_between)
    budgets = Budgets(store, setting, None)
    if cap is None:  # 20 left after the other reply: not enough for 20 in + 16 out
        with pytest.raises(BudgetExhausted) as refused:
            budgets.admit("alice", 20, 4096)
        assert refused.value.scope == "person"
        assert budgets.status("alice")["used"] == spent_between  # ours given back
        return
    admission = budgets.admit("alice", 20, 4096)  # read 300 left; 150 when it landed
    assert (admission.output_cap, admission.reserved) == (cap, 20 + cap)
    assert budgets.status("alice")["used"] == 300  # never past the budget


def test_a_conversation_longer_than_the_whole_budget_is_a_400_not_a_wait(tmp_path):
    budgets = ledger(tmp_path)
    with pytest.raises(ConversationOverBudget) as refused:
        budgets.admit("alice", estimated_input=290, max_output=4096)
    assert (refused.value.scope, refused.value.budget_text) == ("person", "300/hour")
    assert refused.value.retry_after is None


def test_budgets_need_an_output_cap(make_app):
    with pytest.raises(SettingsError, match="MAX_OUTPUT_TOKENS must be above 0"):
        make_app(TOKEN_BUDGET="300/hour", MAX_OUTPUT_TOKENS="0")


def test_a_lost_count_never_gives_more_than_the_whole_budget(tmp_path):
    budgets = ledger(tmp_path)
    admission = budgets.admit("alice", 20, 100)
    key = admission.windows[0].key
    budgets.store.add(-admission.reserved, {key: time.time() + 3600})  # Redis lost it
    budgets.settle(admission, 50)  # the settling then drives the count below zero
    assert budgets.store.totals([key]) == [-70]
    assert budgets.status("alice")["remaining"] == 300
    assert budgets.admit("alice", 20, 4096).output_cap == 280


def test_a_refusal_names_the_budget_and_when_it_renews(tmp_path):
    budgets = ledger(tmp_path, person="1000/hour", everybody="100/hour")
    budgets.settle(budgets.admit("alice", 10, 0), 95)
    with pytest.raises(BudgetExhausted) as refused:
        budgets.admit("bob", 10, 0)
    error = refused.value
    assert error.scope == "global"
    assert 0 < error.retry_after <= 3600
    assert error.retry_after == pytest.approx(3600 - time.time() % 3600, abs=2)


def test_a_reply_ending_after_its_window_settles_into_that_window(tmp_path, monkeypatch):
    budgets = ledger(tmp_path)
    admission = budgets.admit("alice", 20, 100)
    started = time.time()
    monkeypatch.setattr(ledger_module.time, "time", lambda: started + 3600)  # an hour on
    later = _window("person", admission.windows[0].budget, "alice", started + 3600)
    budgets.settle(admission, 50)
    monkeypatch.undo()
    totals = budgets.store.totals([admission.windows[0].key, later.key])
    assert totals == [50, 0]


# --- the API ----------------------------------------------------------------------------


def test_a_spent_budget_is_refused_before_any_upstream_call(budget_app, caplog):
    app = budget_app(TOKEN_BUDGET="300/hour")
    client = app.test_client()
    statuses = [reply(client).status_code for _ in range(6)]
    assert statuses == [200] * 4 + [429] * 2
    assert len(app.transport.requests) == 4  # nothing went upstream for the refusals
    refusal = reply(client)
    assert refusal.json["error"]["code"] == "budget_exhausted"
    assert 0 < int(refusal.headers["Retry-After"]) <= 3600
    assert client.get("/api/budget").json["used"] == 4 * 72
    lines = [line for line in log_lines(caplog) if line["route"] == "/api/chat"]
    assert [line.get("tokens_counted") for line in lines[:4]] == [72] * 4
    assert {line.get("tokens_source") for line in lines[:4]} == {"reported"}


def test_the_cap_sent_upstream_is_what_is_left(budget_app):
    app = budget_app(TOKEN_BUDGET="300/hour", MAX_OUTPUT_TOKENS="200")
    client = app.test_client()
    first = reply(client)
    assert first.headers["X-Token-Budget-Remaining"] == "300"
    second = reply(client)
    assert second.headers["X-Token-Budget-Remaining"] == "228"
    estimated = estimate_input_tokens(
        [{"content": load_settings({}).system_prompt}, {"content": "hi"}]
    )
    caps = [body["max_tokens"] for body in sent_bodies(app)]  # 127.0.0.1: auto → max_tokens
    assert caps == [200, 228 - estimated]
    assert all("max_completion_tokens" not in body for body in sent_bodies(app))


def test_a_stream_without_usage_is_counted_by_estimate(budget_app, caplog):
    app = budget_app(reply_payloads("chatcmpl-x", ["a", "b", "c"]), TOKEN_BUDGET="300/hour")
    client = app.test_client()
    body = reply(client, chat_body("x" * 400)).data
    lines = body.count(b"\n")
    (line,) = [entry for entry in log_lines(caplog) if entry["route"] == "/api/chat"]
    assert line["tokens_source"] == "estimated"
    estimated_input = line["tokens_counted"] - lines
    assert estimated_input >= 100 + 8  # 400 characters of the user's, 2 messages
    assert client.get("/api/budget").json["used"] == line["tokens_counted"]


def test_an_upstream_refusal_gives_the_reservation_back(make_app):
    def overloaded(request):
        return httpx2.Response(503, json={"error": {"message": "overloaded"}})

    app = make_app(overloaded, TOKEN_BUDGET="300/hour")
    client = app.test_client()
    assert reply(client).status_code >= 500
    assert len(app.transport.requests) == 1
    assert client.get("/api/budget").json["used"] == 0


def test_an_unreachable_store_refuses_rather_than_guessing(make_app, tmp_path):
    # A directory where the file should be: SQLite cannot open it.
    app = make_app(sse_handler(), TOKEN_BUDGET="300/hour", SQLITE_PATH=str(tmp_path))
    client = app.test_client()
    response = reply(client)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "budget_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert app.transport.requests == []
    assert client.get("/api/budget").status_code == 503


def test_a_gone_redis_refuses_within_about_a_second(make_app):
    app = make_app(
        sse_handler(), TOKEN_BUDGET="300/hour", RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0"
    )
    started = time.monotonic()
    response = reply(app.test_client())
    assert time.monotonic() - started < 3
    assert response.json["error"]["code"] == "budget_unavailable"
    assert app.transport.requests == []


def test_a_stream_cut_off_by_the_upstream_is_counted_by_estimate(make_app, caplog):
    cut = reply_payloads("chatcmpl-cut", [f"w{i} " for i in range(20)])[:-1]  # no finish
    app = make_app(sse_handler(cut, done=False), TOKEN_BUDGET="300/hour")
    client = app.test_client()
    body = reply(client).data
    assert b"upstream_cut_off" in body
    (line,) = [entry for entry in log_lines(caplog) if entry["route"] == "/api/chat"]
    assert (line["outcome"], line["tokens_source"]) == ("upstream_error", "estimated")
    assert line["tokens_counted"] >= 20
    assert client.get("/api/budget").json["used"] == line["tokens_counted"]


def test_a_file_locked_by_another_process_refuses_within_a_moment(make_app, tmp_path):
    # sqlite waits for a lock inside C, where gevent cannot switch: the wait must be short.
    path = tmp_path / "counts.sqlite3"
    app = make_app(sse_handler(), TOKEN_BUDGET="300/hour", SQLITE_PATH=str(path))
    client = app.test_client()
    assert reply(client).status_code == 200  # the file exists, in WAL mode
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        started = time.monotonic()
        refused = reply(client)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert refused.json["error"]["code"] == "budget_unavailable"
    assert waited < 1.0
    assert reply(client).status_code == 200  # and fine once the lock is gone


def test_a_redis_that_accepts_but_never_answers_refuses_after_its_timeout(make_app):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never replies
        port = silent.getsockname()[1]
        app = make_app(
            sse_handler(),
            TOKEN_BUDGET="300/hour",
            RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
        )
        started = time.monotonic()
        refused = reply(app.test_client())
        waited = time.monotonic() - started
    assert refused.json["error"]["code"] == "budget_unavailable"
    assert 0.5 < waited < 3.0  # the 1 s timeout, not a hang
    assert app.transport.requests == []


def test_the_responses_api_is_capped_and_counted_the_same(make_app, caplog):
    payloads = responses_payloads("resp_budget", ["Hello", " there"])
    app = make_app(sse_handler(payloads), TOKEN_BUDGET="300/hour", MAX_OUTPUT_TOKENS="200")
    client = app.test_client()
    response = client.post("/api/responses", json=CHAT)
    response.get_data()
    assert response.headers["X-Token-Budget-Remaining"] == "300"
    assert sent_bodies(app)[0]["max_output_tokens"] == 200
    (line,) = [entry for entry in log_lines(caplog) if entry["route"] == "/api/responses"]
    # These events report no usage: the estimate, the input and a token an event.
    assert line["tokens_source"] == "estimated"
    assert line["tokens_counted"] > len(payloads)
    assert client.get("/api/budget").json["used"] == line["tokens_counted"]


def test_an_sse_stream_carries_the_header_and_is_counted(budget_app):
    app = budget_app(TOKEN_BUDGET="300/hour")
    client = app.test_client()
    response = client.post("/api/chat", json=CHAT, headers={"Accept": "text/event-stream"})
    assert b"data: [DONE]" in response.get_data()
    assert response.headers["X-Token-Budget-Remaining"] == "300"
    assert client.get("/api/budget").json["used"] == 72
