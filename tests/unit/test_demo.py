"""The built-in demo model: same SDK, same relay, OpenAI-shaped chunks, a useful reply."""

from __future__ import annotations

import json

from tests.support.payloads import chat_body


def stream_lines(client, content="What is 2 + 2?"):
    response = client.post("/api/chat", json=chat_body(content))
    assert response.status_code == 200
    return [json.loads(line) for line in response.data.split(b"\n") if line]


def test_demo_reply_is_a_well_formed_chunk_stream(client):
    chunks = stream_lines(client)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert [c["choices"][0]["finish_reason"] for c in finish] == ["stop"]
    assert chunks[-1]["choices"] == []  # usage chunk, asked for by the app
    usage = chunks[-1]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    content_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    thinking_chunks = [
        c for c in chunks if c["choices"] and "reasoning_content" in c["choices"][0]["delta"]
    ]
    assert usage["completion_tokens"] == len(content_chunks) + len(thinking_chunks)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == len(thinking_chunks)
    assert len(content_chunks) > 50


def test_demo_model_thinks_briefly_before_it_answers(client):
    chunks = [c for c in stream_lines(client, "Why is the sky blue?") if c["choices"]]
    deltas = [c["choices"][0]["delta"] for c in chunks[1:-1]]  # after role, before finish
    thinking = [d["reasoning_content"] for d in deltas if "reasoning_content" in d]
    assert 10 < len(thinking) < 80  # short: about a second at 40 tokens/s
    assert all("reasoning_content" in d for d in deltas[: len(thinking)])  # thinking first
    assert all(d.get("content") for d in deltas[len(thinking) :])  # then only the answer
    assert "Why is the sky blue?" in "".join(thinking)


def test_demo_model_does_not_think_with_reasoning_effort_none(make_app):
    app = make_app(OPENAI_API_KEY="", DEMO_TOKENS_PER_SECOND="2000", REASONING_EFFORT="none")
    for path in ("/api/chat", "/api/responses"):
        data = app.test_client().post(path, json=chat_body("Hi")).data
        assert b"reasoning_content" not in data and b"reasoning_summary" not in data


def test_demo_reply_says_what_it_is_echoes_the_question_and_how_to_switch(client):
    chunks = stream_lines(client, "Explain SSE in one line")
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert "offline demo model" in text
    assert "> Explain SSE in one line" in text
    assert "OPENAI_API_KEY" in text
    assert "OPENAI_BASE_URL=http://127.0.0.1:11434/v1" in text


def test_page_shows_the_demo_badge_only_on_the_demo_model(client, make_app):
    html = client.get("/").data.decode()
    assert 'id="demo-badge"' in html
    with_key = make_app().test_client().get("/").data.decode()  # a key is set: no demo
    assert "demo-badge" not in with_key
