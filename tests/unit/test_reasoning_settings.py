"""REASONING_EFFORT and REASONING_SUMMARY: checked at start-up, sent upstream only when
set (chat ``reasoning_effort``, Responses ``reasoning``), never any reasoning from the
conversation; and the budget estimate of a stream without usage counts the thinking."""

from __future__ import annotations

import json
import logging

import httpx2
import pytest

from streamchat.settings import SettingsError, load_settings
from tests.support.payloads import CHAT, chat_body, reply_payloads, responses_payloads, sse_body
from tests.support.reasoning_payloads import (
    chat_reasoning_payloads,
    responses_reasoning_payloads,
)
from tests.support.waiting import wait_for


def answering(payloads: list[bytes]):
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = sse_body(payloads)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return handler


def sent(app) -> dict:
    return json.loads(app.transport.requests[-1].content)


@pytest.mark.parametrize(
    ("name", "value"),
    [("REASONING_EFFORT", "extreme"), ("REASONING_EFFORT", "HIGH"), ("REASONING_SUMMARY", "short")],
)
def test_a_bad_value_stops_start_up_with_one_line_naming_it(name, value):
    with pytest.raises(SettingsError) as refused:
        load_settings({name: value})
    message = str(refused.value)
    assert message.startswith(f"{name} must be one of ") and repr(value) in message
    assert "\n" not in message


def test_unset_nothing_is_sent(make_app):
    app = make_app(answering(reply_payloads("c", ["hi"])))
    app.test_client().post("/api/chat", json=CHAT).get_data()
    assert "reasoning_effort" not in sent(app) and "reasoning" not in sent(app)
    app = make_app(answering(responses_payloads("r", ["hi"])))
    app.test_client().post("/api/responses", json=CHAT).get_data()
    assert "reasoning" not in sent(app)


def test_chat_sends_reasoning_effort(make_app):
    settings = {"REASONING_EFFORT": "low", "REASONING_SUMMARY": "detailed"}
    app = make_app(answering(reply_payloads("c", ["hi"])), **settings)
    app.test_client().post("/api/chat", json=CHAT).get_data()
    assert sent(app)["reasoning_effort"] == "low"
    assert "reasoning" not in sent(app)  # no summary in Chat Completions


@pytest.mark.parametrize(
    ("settings", "reasoning"),
    [
        ({"REASONING_EFFORT": "minimal"}, {"effort": "minimal"}),
        ({"REASONING_SUMMARY": "auto"}, {"summary": "auto"}),
        (
            {"REASONING_EFFORT": "high", "REASONING_SUMMARY": "concise"},
            {"effort": "high", "summary": "concise"},
        ),
    ],
)
def test_responses_sends_what_is_set_in_reasoning(make_app, settings, reasoning):
    app = make_app(answering(responses_payloads("r", ["hi"])), **settings)
    app.test_client().post("/api/responses", json=CHAT).get_data()
    assert sent(app)["reasoning"] == reasoning


def test_reasoning_sent_by_a_client_never_goes_upstream(make_app):
    app = make_app(answering(reply_payloads("c", ["hi"])))
    body = chat_body("first")
    body["messages"] += [
        {"role": "assistant", "content": "answer", "reasoning_content": "secret thoughts"},
        {"role": "user", "content": "second", "reasoning": "more thoughts"},
    ]
    assert app.test_client().post("/api/chat", json=body).status_code == 200
    assert "thoughts" not in app.transport.requests[-1].content.decode()


# --- budgets: a stream without usage is counted by its relayed lines ---------------------

THOUGHTS = [f"step{i} " for i in range(20)]
WORDS = ["The ", "answer."]


def counted(make_app, caplog, route: str, payloads: list[bytes]) -> int:
    app = make_app(answering(payloads), TOKEN_BUDGET="1000/hour")
    # The app's logging set-up may stop its loggers propagating to the root, where
    # caplog listens: listen on the access logger itself.
    access = logging.getLogger("streamchat.access")
    if caplog.handler not in access.handlers:
        access.addHandler(caplog.handler)
    response = app.test_client().post(route, json=CHAT)
    response.get_data()
    run_id = response.headers["X-Run-ID"]
    # The line is written when the run ends, which under the test client's threads can
    # come just after the body was read: wait for it rather than race it.
    # This run's line (an earlier test's run may end, and log, meanwhile), once however
    # many ways it reached caplog.
    lines = wait_for(
        lambda: {
            r.request_id: vars(r)
            for r in caplog.records
            if r.name == "streamchat.access" and getattr(r, "run_id", None) == run_id
        },
        5,
    )
    access.removeHandler(caplog.handler)
    (line,) = lines.values()
    caplog.clear()
    assert line["tokens_source"] == "estimated"
    return line["tokens_counted"]


def test_the_estimate_counts_thinking_like_answer_text(make_app, caplog):
    """counting.py estimates a stream without usage as its input plus one token per line
    relayed; reasoning arrives in lines of its own, so each is counted already."""
    chat = [
        chat_reasoning_payloads("reasoning_content", "c", t, WORDS, usage=False)
        for t in ([], THOUGHTS)
    ]
    without, thinking = (counted(make_app, caplog, "/api/chat", p) for p in chat)
    assert thinking - without == len(THOUGHTS)
    responses = [responses_reasoning_payloads("summary", "r", t, WORDS) for t in ([], THOUGHTS)]
    # No usage in these: the completed event's is dropped.
    responses = [[p.replace(b'"usage":', b'"no_usage":') for p in r] for r in responses]
    without, thinking = (counted(make_app, caplog, "/api/responses", p) for p in responses)
    assert thinking - without == len(THOUGHTS)
