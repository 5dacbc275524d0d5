"""POST /api/conversations/<id>/messages: a conversation a browser kept, imported as
stored turns. Owner-scoped (another person's id is a 404), within the chat request's
size limits, and idempotent (sent twice, one copy)."""

from __future__ import annotations

import pytest

from tests.support.signin import OTHER_PASSWORD, OTHER_USER, api_token, password_settings, sign_in
from tests.unit.test_conversations_api import reply_upstream

KEPT = [
    {"role": "user", "content": "Plan a day in Rome"},
    {"role": "assistant", "content": "Start at the Pantheon.", "state": "done"},
    {"role": "user", "content": "And dinner?"},
    {"role": "assistant", "content": "Trastevere", "state": "stopped"},
]


@pytest.fixture
def app(make_app):
    return make_app(
        reply_upstream,
        **password_settings(MAX_MESSAGES="4", MAX_MESSAGE_CHARS="50", MAX_TOTAL_CHARS="90"),
    )


@pytest.fixture
def alice(app):
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client


def store(client, conversation_id, messages, **kwargs):
    path = f"/api/conversations/{conversation_id}/messages"
    return client.post(path, json={"messages": messages}, **kwargs)


def test_imported_messages_are_stored_turns_and_a_second_import_keeps_one_copy(alice, app):
    made = alice.post("/api/conversations", json={}).get_json()
    answer = store(alice, made["id"], KEPT)
    assert answer.status_code == 200
    for _ in range(2):
        got = alice.get(f"/api/conversations/{made['id']}").get_json()
        shown = [(m["role"], m["content"], m["state"]) for m in got["messages"]]
        assert shown == [(m["role"], m["content"], m.get("state")) for m in KEPT]
        assert got["title"] == "Plan a day in Rome" and got["run_id"] is None
        assert store(alice, made["id"], KEPT).status_code == 200
    assert answer.get_json()["messages"][1]["state"] == "done"
    assert app.transport.requests == []  # stored, never sent upstream
    # A later chat turn goes on from the imported ones, keeping them.
    before = alice.get(f"/api/conversations/{made['id']}").get_json()["messages"]
    turn = [*({"role": m["role"], "content": m["content"]} for m in KEPT[:3])]
    response = alice.post("/api/chat", json={"conversation_id": made["id"], "messages": turn})
    response.get_data()
    after = alice.get(f"/api/conversations/{made['id']}").get_json()["messages"]
    assert [m["id"] for m in after[:3]] == [m["id"] for m in before[:3]]
    assert after[3]["state"] == "done" and len(after) == 4


def test_another_persons_conversation_is_a_404(alice, app):
    hers = alice.post("/api/conversations", json={"title": "mine"}).get_json()["id"]
    bob = app.test_client()
    sign_in(bob, OTHER_USER, OTHER_PASSWORD)
    token = {"Authorization": f"Bearer {api_token()[0]}"}
    answers = [store(bob, hers, KEPT[:1]), store(app.test_client(), hers, KEPT[:1], headers=token)]
    assert [a.status_code for a in answers] == [404, 404]
    assert {a.get_json()["error"]["code"] for a in answers} == {"conversation_not_found"}
    assert alice.get(f"/api/conversations/{hers}").get_json()["messages"] == []
    assert store(alice, "x" * 22, KEPT[:1]).status_code == 404


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        ([], "invalid_messages"),
        ("hello", "invalid_messages"),
        ([*KEPT, KEPT[0]], "too_many_messages"),  # MAX_MESSAGES=4
        ([{"role": "user", "content": "x" * 51}], "message_too_long"),  # MAX_MESSAGE_CHARS=50
        ([{"role": "user", "content": "x" * 50}] * 2, "conversation_too_long"),  # 90 in all
        ([{"role": "system", "content": "x"}], "invalid_role"),
        ([{"role": "user", "content": 5}], "invalid_content"),
        ([{"role": "user", "content": "a\x00b"}], "invalid_content"),
        ([{"role": "assistant", "content": "x", "state": "streaming"}], "invalid_state"),
    ],
)
def test_limits_and_bad_messages_are_400s(alice, messages, code):
    made = alice.post("/api/conversations", json={}).get_json()
    refused = store(alice, made["id"], messages)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == code
    assert alice.get(f"/api/conversations/{made['id']}").get_json()["messages"] == []


def test_anonymous_requests_get_401(app):
    assert store(app.test_client(), "x" * 22, KEPT[:1]).status_code == 401
