"""The conversations API through Flask's test client on a migrated SQLite file: each
route, paging, limits, a chat turn stored with its reply, and another person's ids
answering 404 everywhere with no upstream call."""

from __future__ import annotations

import json

import httpx2
import pytest

from tests.support.payloads import counted_reply, responses_payloads, sse_body
from tests.support.signin import OTHER_PASSWORD, OTHER_USER, api_token, password_settings, sign_in


def reply_upstream(request: httpx2.Request) -> httpx2.Response:
    """A streamed reply of three words with usage, on either API."""
    if request.url.path.endswith("/responses"):
        body = sse_body(responses_payloads("resp_1", ["Hi ", "there"]), done=False)
    else:
        body = sse_body(counted_reply("chatcmpl-conv", prompt=7, completion=3))
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)


@pytest.fixture
def app(make_app):
    return make_app(reply_upstream, **password_settings())


@pytest.fixture
def alice(app):
    client = app.test_client()
    assert sign_in(client).status_code == 303
    return client


@pytest.fixture
def bob(app):
    client = app.test_client()
    assert sign_in(client, OTHER_USER, OTHER_PASSWORD).status_code == 303
    return client


def chat(client, conversation_id, messages, path="/api/chat"):
    response = client.post(path, json={"conversation_id": conversation_id, "messages": messages})
    body = response.get_data()
    response.close()
    return response, body


def test_create_list_get_rename_delete(alice):
    made = alice.post("/api/conversations", json={"title": "Trip plans"})
    assert made.status_code == 201
    conversation = made.get_json()
    assert len(conversation["id"]) == 22 and conversation["title"] == "Trip plans"
    assert conversation["created_at"].endswith("Z")

    listed = alice.get("/api/conversations").get_json()
    assert [c["id"] for c in listed["conversations"]] == [conversation["id"]]
    assert listed["next"] is None

    got = alice.get(f"/api/conversations/{conversation['id']}").get_json()
    assert got["messages"] == [] and got["run_id"] is None

    renamed = alice.patch(f"/api/conversations/{conversation['id']}", json={"title": "Rome"})
    assert renamed.status_code == 200 and renamed.get_json()["title"] == "Rome"

    assert alice.delete(f"/api/conversations/{conversation['id']}").status_code == 204
    gone = alice.get(f"/api/conversations/{conversation['id']}")
    assert gone.status_code == 404
    assert gone.get_json()["error"]["code"] == "conversation_not_found"


def test_paging_walks_every_conversation_once_newest_first(alice):
    made = [alice.post("/api/conversations", json={"title": f"c{i}"}).get_json() for i in range(7)]
    seen, cursor = [], None
    for _ in range(10):
        query = {"limit": 3} | ({"before": cursor} if cursor else {})
        page = alice.get("/api/conversations", query_string=query).get_json()
        seen += [c["title"] for c in page["conversations"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [c["title"] for c in reversed(made)]
    bad = alice.get("/api/conversations", query_string={"before": "not-a-cursor"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_cursor"
    for limit in ("0", "201", "x", "9" * 40):
        refused = alice.get("/api/conversations", query_string={"limit": limit})
        assert refused.status_code == 400, limit


def test_a_chat_turn_is_stored_with_its_reply_and_an_edit_rewrites_the_tail(alice, app):
    conversation = alice.post("/api/conversations", json={}).get_json()
    first = [{"role": "user", "content": "Plan a day in Rome"}]
    response, _ = chat(alice, conversation["id"], first)
    assert response.status_code == 200 and "X-Conversation-Saved" not in response.headers
    stored = alice.get(f"/api/conversations/{conversation['id']}").get_json()
    assert stored["title"] == "Plan a day in Rome" and stored["run_id"] is None
    user, reply = stored["messages"]
    assert (user["role"], user["content"], user["state"]) == ("user", first[0]["content"], None)
    assert reply["role"] == "assistant" and reply["state"] == "done"
    assert reply["content"] == "w0 w1 w2 "
    assert reply["usage"]["completion_tokens"] == 3

    # The next turn keeps the stored messages (same ids); an edit of the first rewrites.
    second = [*first, {"role": "assistant", "content": reply["content"]}]
    second.append({"role": "user", "content": "And dinner?"})
    chat(alice, conversation["id"], second)
    after = alice.get(f"/api/conversations/{conversation['id']}").get_json()["messages"]
    assert [m["id"] for m in after[:2]] == [user["id"], reply["id"]]
    assert len(after) == 4 and after[3]["state"] == "done"
    chat(alice, conversation["id"], [{"role": "user", "content": "Plan a day in Paris"}])
    edited = alice.get(f"/api/conversations/{conversation['id']}").get_json()["messages"]
    assert [m["content"] for m in edited] == ["Plan a day in Paris", "w0 w1 w2 "]
    assert edited[0]["id"] != user["id"]


def test_a_responses_turn_is_stored_too(alice):
    conversation = alice.post("/api/conversations", json={}).get_json()
    response, _ = chat(
        alice, conversation["id"], [{"role": "user", "content": "hi"}], "/api/responses"
    )
    assert response.status_code == 200
    reply = alice.get(f"/api/conversations/{conversation['id']}").get_json()["messages"][1]
    assert (reply["content"], reply["state"]) == ("Hi there", "done")


def test_another_persons_conversation_is_a_404_everywhere_with_no_upstream_call(alice, bob, app):
    hers = alice.post("/api/conversations", json={"title": "mine"}).get_json()["id"]
    token = {"Authorization": f"Bearer {api_token()[0]}"}  # the ci token: a third identity
    answers = []
    for client, headers in ((bob, {}), (app.test_client(), token)):
        answers += [
            client.get(f"/api/conversations/{hers}", headers=headers),
            client.patch(f"/api/conversations/{hers}", json={"title": "x"}, headers=headers),
            client.delete(f"/api/conversations/{hers}", headers=headers),
            client.get(f"/api/conversations/{hers}/export", headers=headers),
        ]
        for path in ("/api/chat", "/api/responses"):
            body = {"conversation_id": hers, "messages": [{"role": "user", "content": "x"}]}
            answers.append(client.post(path, json=body, headers=headers))
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert {a.get_json()["error"]["code"] for a in answers} == {"conversation_not_found"}
    assert app.transport.requests == []
    assert bob.get("/api/conversations").get_json()["conversations"] == []
    # Still hers, untouched.
    assert alice.get(f"/api/conversations/{hers}").get_json()["title"] == "mine"


def test_export_as_markdown_and_json(alice):
    conversation = alice.post("/api/conversations", json={"title": 'Q3 "plan"/x'}).get_json()
    chat(alice, conversation["id"], [{"role": "user", "content": "hello"}])
    md = alice.get(f"/api/conversations/{conversation['id']}/export")
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    assert md.headers["Content-Disposition"] == 'attachment; filename="Q3 planx.md"'
    assert "## You\n\nhello" in md.get_data(as_text=True)
    as_json = alice.get(
        f"/api/conversations/{conversation['id']}/export", query_string={"format": "json"}
    )
    assert json.loads(as_json.get_data())["messages"][1]["content"] == "w0 w1 w2 "
    bad = alice.get(f"/api/conversations/{conversation['id']}/export?format=pdf")
    assert bad.status_code == 400


def test_past_the_limit_a_new_conversation_is_a_409(make_app):
    app = make_app(reply_upstream, **password_settings(MAX_CONVERSATIONS_PER_USER="2"))
    client = app.test_client()
    sign_in(client)
    codes = [client.post("/api/conversations", json={}).status_code for _ in range(3)]
    assert codes == [201, 201, 409]
    refused = client.post("/api/conversations", json={}).get_json()["error"]
    assert refused["code"] == "too_many_conversations" and "2" in refused["message"]


def test_bad_fields_are_400s(alice):
    for body in ({"title": 5}, {"title": "x" * 201}, [], {"model": ["m"]}):
        assert alice.post("/api/conversations", json=body).status_code == 400, body
    made = alice.post("/api/conversations", json={}).get_json()
    assert alice.patch(f"/api/conversations/{made['id']}", json={}).status_code == 400
    for value in (5, "", "x" * 65):
        body = {"conversation_id": value, "messages": [{"role": "user", "content": "x"}]}
        assert alice.post("/api/chat", json=body).status_code == 400


def test_without_sign_in_there_are_no_server_conversations(make_app):
    app = make_app(reply_upstream)
    client = app.test_client()
    assert client.get("/api/conversations").status_code == 404
    body = {"conversation_id": "x" * 22, "messages": [{"role": "user", "content": "x"}]}
    refused = client.post("/api/chat", json=body)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "conversations_off"
    assert app.transport.requests == []


def test_anonymous_requests_get_401(app):
    assert app.test_client().get("/api/conversations").status_code == 401


def test_with_the_database_unreachable_the_reply_still_streams(make_app, tmp_path):
    url = f"sqlite:///{tmp_path}/missing-folder/none.db"
    app = make_app(reply_upstream, DATABASE_URL=url, **password_settings())
    client = app.test_client()
    # No session can be checked either: a program's token still works.
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token()[0]}"
    listed = client.get("/api/conversations")
    assert listed.status_code == 503
    assert listed.get_json()["error"]["code"] == "database_unavailable"
    response, body = chat(client, "x" * 22, [{"role": "user", "content": "hi"}])
    assert response.status_code == 200 and response.headers["X-Conversation-Saved"] == "false"
    assert b'"finish_reason":"stop"' in body
    ready = client.get("/readyz").get_json()
    assert ready["database"] == "unreachable"


def test_the_sidebars_query_walks_its_index_with_no_sort(app):
    """Listing 50 of 10,000 stays fast only while SQLite reads the owner's rows in index
    order (bench: ./scripts/bench listing); a full scan or a sort would not show in a
    small test's timings, but it shows in the plan."""
    from sqlalchemy import select

    from streamchat.conversations.tables import Conversation
    from streamchat.runtime import runtime_of

    query = (
        select(Conversation)
        .where(Conversation.owner == "user:alice", Conversation.updated_ms < 5)
        .order_by(Conversation.updated_ms.desc(), Conversation.id.desc())
        .limit(51)
    )
    engine = runtime_of(app).conversations.engine
    with engine.connect() as connection:
        compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(
            row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
        )
    assert "ix_conversations_owner_updated" in plan, plan
    assert "TEMP B-TREE" not in plan, plan
