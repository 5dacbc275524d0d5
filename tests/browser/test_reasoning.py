"""A reasoning model's thinking on the page, in Chromium against the real server: for each
shape an upstream streams it in (chat ``reasoning_content`` / ``reasoning`` deltas,
``<think>`` in the content, Responses summary events with and without part.added,
Responses reasoning text), the thinking streams into an open <details> above the answer,
closes when the answer starts, says how long it took, and is never sent back upstream.
Also the demo model, which thinks before it answers, and a reload."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.support.browser import ChatPage, open_chat_page
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.reasoning_payloads import (
    CHAT_SHAPES,
    RESPONSES_SHAPES,
    chat_reasoning_payloads,
    responses_reasoning_payloads,
)

THOUGHTS = ["Let ", "me ", "weigh ", "**both** ", "options."]
WORDS = ["The ", "answer ", "is ", "42."]
ANSWER = "".join(WORDS)

# Each sample: is the last reply's <details> open, how much thinking and how much answer
# it shows. Taken every 10 ms inside the page, so no moment is missed on a busy machine.
SAMPLER = """() => {
  window.__samples = [];
  window.__sampler = setInterval(() => {
    const items = document.querySelectorAll('#conversation .message.assistant');
    const item = items[items.length - 1];
    if (!item) return;
    const details = item.querySelector('details.thoughts');
    const thought = details ? details.querySelector('.thoughts-body').textContent : '';
    const answer = item.querySelector('.content').textContent;
    window.__samples.push([Boolean(details && details.open), thought.length, answer.length]);
  }, 10);
}"""


@pytest.fixture(scope="module")
def responses_server(fake_upstream) -> Iterator[RunningServer]:
    """The real server on the fake upstream, the page using the Responses API."""
    server = start_gunicorn_against(
        fake_upstream.base_url, CHAT_API="responses", HEARTBEAT_SECONDS="1"
    )
    yield server
    server.stop()


def script_reasoning(upstream: FakeUpstream, shape: str) -> None:
    """The next reply thinks in ``shape`` (with a pause before its last thought, so the
    page is seen mid-thought, and one before the answer) and then answers."""
    if shape in CHAT_SHAPES:
        payloads = chat_reasoning_payloads(shape, "chatcmpl-think", THOUGHTS, WORDS)
    else:
        payloads = responses_reasoning_payloads(shape, "resp_think", THOUGHTS, WORDS)
    last_thought = next(i for i, p in enumerate(payloads) if b"options." in p)
    answer = next(i for i, p in enumerate(payloads) if b'"The ' in p)
    pauses = {last_thought: 0.8, answer: 1.0}
    upstream.script = Script(payloads=payloads, interval=0.03, pauses=pauses)


def last_reply(chat: ChatPage):
    return chat.page.locator("#conversation .message.assistant").last


def sent_upstream(upstream: FakeUpstream) -> list[dict]:
    """The conversation of the last request the fake upstream got, either API."""
    request = upstream.records[-1].request
    return request.get("messages") or request["input"]


@pytest.mark.parametrize("shape", CHAT_SHAPES + RESPONSES_SHAPES)
def test_thinking_streams_above_the_answer_and_never_goes_back_upstream(
    browser, request, fake_upstream, shape
):
    server_name = "upstream_server" if shape in CHAT_SHAPES else "responses_server"
    chat = open_chat_page(browser, request.getfixturevalue(server_name)).open()
    try:
        script_reasoning(fake_upstream, shape)
        chat.page.evaluate(SAMPLER)
        chat.send("Which option?")
        reply = last_reply(chat)
        thoughts = reply.locator("details.thoughts")
        body = thoughts.locator(".thoughts-body")
        # Mid-thought: the disclosure is open, growing, and the answer has not started.
        chat.page.wait_for_function(
            "() => document.querySelector('details.thoughts[open] .thoughts-body')"
            "?.textContent.includes('weigh')"
        )
        assert "options." not in body.text_content()
        assert thoughts.locator("summary").text_content() == "Thinking…"
        assert reply.locator(".content").text_content() == ""
        assert chat.state() == "streaming"
        assert chat.wait_for_state() == "done"

        # Closed by itself, timed; the thinking rendered as markdown, the answer apart.
        samples = chat.page.evaluate("clearInterval(window.__sampler) || window.__samples")
        answering = [s for s in samples if s[2] > 0]
        assert answering and not any(open_ for open_, _, _ in answering[3:]), answering[:5]
        assert thoughts.evaluate("d => d.open") is False
        label = thoughts.locator("summary").text_content()
        assert re.fullmatch(r"Thought for \d+ s", label) and int(label.split()[2]) >= 1, label
        thoughts.locator("summary").click()  # drawn when opened
        expect(body).to_have_text("Let me weigh both options.")
        assert body.locator("strong").text_content() == "both"
        assert reply.locator(".content").text_content().strip() == ANSWER
        above = reply.evaluate(
            """li => {
              const kids = [...li.children];
              return kids.indexOf(li.querySelector(':scope > details.thoughts')) <
                kids.indexOf(li.querySelector(':scope > .content'));
            }"""
        )
        assert above
        assert (
            reply.locator(".usage").text_content()
            == "Tokens: 5 in · 9 out (5 reasoning) · 14 total"
        )

        # The next turn sends the answer alone: no reasoning, no <think>.
        script_reasoning(fake_upstream, shape)
        assert chat.exchange("And then?") == "done"
        conversation = sent_upstream(fake_upstream)
        assert [m["content"] for m in conversation if m["role"] == "assistant"] == [ANSWER]
        sent = json.dumps(conversation)
        assert "weigh" not in sent and "think" not in sent and "reasoning" not in sent
        assert chat.console_errors == []
    finally:
        chat.context.close()


def test_the_demo_model_thinks_then_answers_and_both_survive_a_reload(browser, demo_server):
    chat = open_chat_page(browser, demo_server).open()
    try:
        chat.page.evaluate(SAMPLER)
        assert chat.exchange("Why is the sky blue?") == "done"
        samples = chat.page.evaluate("clearInterval(window.__sampler) || window.__samples")
        # Seen thinking with no answer yet, in the open disclosure; then the answer, closed.
        assert any(open_ and thought and not answer for open_, thought, answer in samples)
        assert samples[-1][0] is False and samples[-1][2] > 0
        reply = last_reply(chat)
        label = reply.locator("details.thoughts summary").text_content()
        assert re.fullmatch(r"Thought for \d+ s", label), label
        reply.locator("details.thoughts summary").click()
        expect(reply.locator(".thoughts-body")).to_contain_text(
            'I was asked "Why is the sky blue?"'
        )
        assert "offline demo model" in chat.reply_text()
        assert "I was asked" not in chat.reply_text()
        assert "reasoning)" in reply.locator(".usage").text_content()

        chat.page.reload()
        chat.page.wait_for_selector("body[data-ready=markdown]")
        reply = last_reply(chat)
        assert reply.locator("details.thoughts summary").text_content() == label
        reply.locator("details.thoughts summary").click()
        expect(reply.locator(".thoughts-body")).to_contain_text(
            'I was asked "Why is the sky blue?"'
        )
        assert chat.console_errors == []
    finally:
        chat.context.close()
