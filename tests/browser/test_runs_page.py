"""A reply is a run the page reads on (docs/architecture.md, "Runs"): after a reload, after
the browser was offline, in a second tab; and Stop in any tab stops it for all.

The server here lets a run outlive its readers (RUN_GRACE_SECONDS); the fake upstream
paces each reply so there is time to reload or go offline in the middle of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.browser import FINAL_STATES, Backend, ChatPage, open_chat_page
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.waiting import wait_for

STORED_REPLY = """() => {
  const saved = JSON.parse(localStorage.getItem('streamchat:conversations:v1') || 'null');
  const messages = saved ? saved.conversations[0].messages : [];
  const last = messages[messages.length - 1];
  return last && last.role === 'assistant' ? last.content : '';
}"""
SHOWN_REPLY = """() => {
  const all = document.querySelectorAll('#conversation .message.assistant .content');
  return all.length ? all[all.length - 1].textContent : '';
}"""


def words(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i} " for i in range(count)]


def full_text(reply: list[str]) -> str:
    return "".join(reply).strip()


@pytest.fixture(scope="module")
def runs_server(fake_upstream) -> Iterator[RunningServer]:
    """Runs outlive their readers for 30 s; heartbeats each second, so a reader that left
    is noticed within one."""
    server = start_gunicorn_against(
        fake_upstream.base_url, HEARTBEAT_SECONDS="1", RUN_GRACE_SECONDS="30"
    )
    yield server
    server.stop()


@pytest.fixture
def backend(fake_upstream, runs_server) -> Backend:
    return Backend("upstream", runs_server, fake_upstream)


def run_requests(chat: ChatPage) -> list[str]:
    """Record the page's requests to /api/runs/ from now on."""
    seen: list[str] = []
    chat.page.on(
        "request", lambda r: seen.append(f"{r.method} {r.url}") if "/api/runs/" in r.url else None
    )
    return seen


def wait_for_text(chat: ChatPage, longer_than: int = 0) -> int:
    """Wait until the last reply shows more than ``longer_than`` characters; its length."""
    chat.page.wait_for_function(f"(n) => ({SHOWN_REPLY})().length > n", arg=longer_than)
    return len(chat.reply_text())


def test_reload_mid_reply_reads_on_the_same_reply(chat: ChatPage, backend: Backend):
    reply = words("r", 60)  # ~4.8 s
    backend.script(reply, interval=0.08)
    asked = len(backend.upstream.records)
    chat.send("A long answer, please")
    # Part of it saved, and more shown than saved: the lines after the saved count are
    # read again after the reload, and their text must not be added twice.
    chat.page.wait_for_function(f"() => ({STORED_REPLY})().length > 0")
    chat.page.wait_for_function(f"() => ({SHOWN_REPLY})().length > ({STORED_REPLY})().length")
    chat.page.reload()
    resumes = run_requests(chat)
    chat.page.wait_for_selector("body[data-ready]")
    assert chat.wait_for_state("streaming", *FINAL_STATES) == "streaming"
    assert chat.wait_for_state() == "done"
    assert chat.reply_text().strip() == full_text(reply)
    assert len(backend.upstream.records) == asked + 1  # one reply, read on
    assert len(resumes) == 1 and "?after=" in resumes[0], resumes
    assert int(resumes[0].split("?after=")[1]) > 0
    chat.page.reload()  # what was saved at the end is the whole reply, once
    chat.page.wait_for_selector("body[data-ready]")
    assert chat.reply_text().strip() == full_text(reply)
    assert chat.state() == "ready"
    assert chat.console_errors == []


def test_offline_for_a_while_reconnects_and_completes(chat: ChatPage, backend: Backend):
    reply = words("o", 120)  # ~6 s
    backend.script(reply, interval=0.05)
    asked = len(backend.upstream.records)
    chat.send("Keep talking")
    wait_for_text(chat)
    chat.start_sampling()
    chat.context.set_offline(True)
    try:
        chat.wait_for_state("reconnecting", timeout=5_000)
        time.sleep(5)
        assert chat.state() == "reconnecting"
    finally:
        chat.context.set_offline(False)
    assert chat.wait_for_state() == "done"
    states = [state for _, _, state in chat.stop_sampling()]
    assert "reconnecting" in states and states[-1] == "done"
    assert chat.page.inner_text("#status") == "Done"
    assert chat.reply_text().strip() == full_text(reply)
    assert len(backend.upstream.records) == asked + 1


def second_tab(first: ChatPage) -> ChatPage:
    """Another tab of the same browser (same localStorage), on the page."""
    tab = ChatPage(first.context, first.context.new_page(), first.origin)
    tab.page.on("pageerror", lambda e: tab.console_errors.append(f"uncaught: {e}"))
    return tab.open()


@pytest.fixture
def tabs(browser, backend) -> Iterator[tuple[ChatPage, ChatPage]]:
    """Tab A with one exchange done, and tab B opened after it, on the same conversation."""
    a = open_chat_page(browser, backend.server).open()
    backend.script(["First ", "answer"])
    assert a.exchange("First question") == "done"
    b = second_tab(a)
    assert b.reply_text().strip() == "First answer"
    yield a, b
    a.context.close()


def test_second_tab_shows_the_reply_streaming_to_its_end(tabs, backend: Backend):
    a, b = tabs
    reply = words("s", 50)  # ~2.5 s
    backend.script(reply, interval=0.05)
    asked = len(backend.upstream.records)
    a.send("Second question")
    # B hears of it through storage, and reads the same run.
    assert b.wait_for_state("streaming", *FINAL_STATES) == "streaming"
    shown = wait_for_text(b)
    wait_for_text(b, shown)  # growing in B
    assert a.wait_for_state() == "done" and b.wait_for_state() == "done"
    assert a.reply_text().strip() == full_text(reply)
    assert b.reply_text().strip() == full_text(reply)
    assert len(backend.upstream.records) == asked + 1
    assert a.console_errors == [] and b.console_errors == []


def test_stop_in_one_tab_stops_the_reply_in_the_other(tabs, backend: Backend):
    a, b = tabs
    backend.script(words("t", 300), interval=0.05)  # 15 s if left alone
    a.send("A very long answer")
    b.wait_for_state("streaming", *FINAL_STATES)
    wait_for_text(b)
    record = backend.upstream.records[-1]
    # B did not start the reply: its Stop must still reach the run A reads.
    b.page.click("#stop")
    stopped_at = time.monotonic()
    assert wait_for(lambda: record.peer_closed is not None, 5.0)
    assert record.peer_closed - stopped_at < 1.5
    assert record.finished is None
    assert b.wait_for_state() == "stopped"
    assert a.wait_for_state() == "stopped"
    shown = a.reply_text()
    time.sleep(1.0)
    assert a.reply_text() == shown and shown  # A's reply stopped, what came is kept
    assert "Stopped." in a.page.inner_text("#conversation .message.assistant:last-child .note")
    assert a.console_errors == [] and b.console_errors == []
