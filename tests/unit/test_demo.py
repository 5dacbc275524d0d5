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
    assert usage["completion_tokens"] == len(content_chunks) > 50


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
