"""Token budgets as the page shows them, against the real gunicorn server and the fake
upstream: what is left near the header, fetched on load and after every reply, and the
note a refused request gets. The upstream reports 72 tokens per reply here (60 in,
12 out), so with TOKEN_BUDGET=300/hour the figures are 300, then 228, ... until refused.
Without a budget the page says nothing about budgets and never asks.

Each server keeps its counts in its own SQLite file (SQLITE_PATH, set per server by the
test support), so a run does not inherit what an earlier run spent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.browser import ChatPage, open_chat_page
from tests.support.fake_upstream import Script
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import reply_payloads, usage_payload

PROMPT_TOKENS, COMPLETION_TOKENS = 60, 12  # 72 tokens per reply, as the upstream reports
# Enough to spend 300 tokens at 72 a reply (the last admitted may overshoot), and more.
MAX_REPLIES = 8


def script_counted_reply(fake_upstream) -> None:
    """The upstream's next replies: a few words and a usage chunk of 72 tokens."""
    payloads = [
        *reply_payloads("chatcmpl-budget", ["Counted ", "reply"]),
        usage_payload("chatcmpl-budget", PROMPT_TOKENS, COMPLETION_TOKENS),
    ]
    fake_upstream.script = Script(payloads=payloads, interval=0.01)


def budget_server(fake_upstream, **budgets: str) -> RunningServer:
    """The real server with ``budgets`` set (and a fresh count file of its own)."""
    return start_gunicorn_against(fake_upstream.base_url, **budgets)


@pytest.fixture(scope="module")
def own_budget_server(fake_upstream) -> Iterator[RunningServer]:
    server = budget_server(fake_upstream, TOKEN_BUDGET="300/hour")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def global_budget_server(fake_upstream) -> Iterator[RunningServer]:
    """A deployment-wide budget smaller than each person's: the global figure binds."""
    server = budget_server(fake_upstream, TOKEN_BUDGET="300/hour", GLOBAL_TOKEN_BUDGET="200/hour")
    yield server
    server.stop()


@pytest.fixture
def budget_chat(browser, own_budget_server, fake_upstream) -> Iterator[ChatPage]:
    chat = open_chat_page(browser, own_budget_server)
    yield chat
    chat.context.close()


def budget_text(chat: ChatPage) -> str:
    """The budget line as shown ("" while hidden)."""
    box = chat.page.locator("#budget")
    return box.inner_text().strip() if box.is_visible() else ""


def wait_for_budget(chat: ChatPage, wanted: str) -> str:
    """Wait until the budget line starts with ``wanted``; returns the whole line."""
    try:
        chat.page.wait_for_function(
            """(wanted) => {
              const box = document.getElementById('budget');
              return !box.hidden && box.textContent.trim().startsWith(wanted);
            }""",
            arg=wanted,
        )
    except PlaywrightTimeout:
        flag = chat.page.get_attribute("body", "data-budget")
        pytest.fail(f"budget line {budget_text(chat)!r}, not {wanted!r} (data-budget={flag!r})")
    return budget_text(chat)


def test_budget_counts_down_and_a_refusal_says_when_to_come_back(budget_chat, fake_upstream):
    chat = budget_chat
    script_counted_reply(fake_upstream)
    chat.open()
    line = wait_for_budget(chat, "300 tokens left")
    assert "resets in" in line, line

    assert chat.exchange("First question") == "done"
    wait_for_budget(chat, "228 tokens left")
    # Later changes of the count are read out, politely.
    assert chat.page.get_attribute("#budget-left", "aria-live") == "polite"

    # Keep asking until the budget refuses.
    replies = 1
    while replies < MAX_REPLIES:
        typed = f"Question {replies + 1}"
        asked_upstream = len(fake_upstream.records)
        state = chat.exchange(typed)
        if state == "error":
            break
        assert state == "done"
        replies += 1
    else:
        pytest.fail(f"never refused after {MAX_REPLIES} replies of 72 tokens")
    # 300 tokens at 72 a reply. The page re-sends the whole conversation each turn, so the
    # estimated input grows, and the 4th turn may not leave room for a 16-token reply.
    assert 3 <= replies <= 5, replies
    assert len(fake_upstream.records) == asked_upstream, "the refusal asked the upstream"

    note = chat.page.locator("#conversation .message.assistant .note.error").last.inner_text()
    assert note.startswith("You have used your token budget."), note
    assert "You can chat again in " in note and "(at " in note, note
    assert chat.page.is_visible("#retry")
    # The line shows what the server says is left now (refreshed after the refusal).
    left = chat.page.evaluate("async () => (await (await fetch('/api/budget')).json()).remaining")
    assert left <= 300 - 3 * 72
    chat.page.wait_for_function(
        "(left) => document.getElementById('budget-left').textContent"
        " === (left ? `${left} token${left === 1 ? '' : 's'} left` : 'No tokens left')",
        arg=left,
    )
    # What was typed is kept: the last message, still there after a reload.
    chat.page.reload()
    chat.page.wait_for_selector("body[data-ready]")
    users = chat.page.locator("#conversation .message.user .content").all_text_contents()
    assert users[-1].strip() == typed
    # Nothing failed in the page (the browser logs the refused request's 429 itself).
    errors = [e for e in chat.console_errors if not e.startswith("Failed to load resource")]
    assert errors == [], errors


def test_global_budget_that_binds_is_named(browser, global_budget_server, fake_upstream):
    chat = open_chat_page(browser, global_budget_server)
    try:
        chat.open()
        line = wait_for_budget(chat, "200 tokens left service-wide")
        assert "resets in" in line, line
        title = chat.page.get_attribute("#budget", "title")
        assert "Yours: 300 of 300" in title and "Service-wide: 200 of 200" in title, title
    finally:
        chat.context.close()


def test_no_budget_means_no_budget_text_and_no_budget_requests(chat: ChatPage, backend):
    # ``chat`` is on the servers every other browser test uses: no budget set.
    asked = []
    chat.page.on("request", lambda r: asked.append(r.url) if "/api/budget" in r.url else None)
    chat.page.reload()
    chat.page.wait_for_selector("body[data-ready]")
    backend.script(["No ", "budget ", "here"])
    assert chat.exchange("Anything to count?") == "done"
    assert not chat.page.is_visible("#budget")
    assert chat.page.inner_text("body").count("tokens left") == 0
    assert asked == []
