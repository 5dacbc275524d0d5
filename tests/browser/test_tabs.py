"""Two tabs of one browser: two pages of one context, so they share localStorage.

Tab A streams a slow reply from the fake upstream while tab B starts a conversation of its
own; whatever A saves during and after its reply, B's conversation must stay saved.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import Backend, ChatPage, open_chat_page

SLOW_WORDS = [f"a{i} " for i in range(100)]  # ~6 s at 60 ms a word: B's whole turn fits in it
STORED_TITLES = """() => JSON.parse(localStorage.getItem('streamchat:conversations:v1'))
  .conversations.map((c) => c.title)"""
# How much of A's reply is saved (A saves a partial reply about once a second).
STORED_REPLY_LENGTH = """() => JSON.parse(localStorage.getItem('streamchat:conversations:v1'))
  .conversations.find((c) => c.title === 'Long reply in tab A').messages[1].content.length"""
# Stands in for a `storage` event still queued when tab A saves: A never hears of B's
# writes, so only the save itself can notice them.
HIDE_STORAGE_EVENTS = """window.addEventListener(
  'storage', (event) => event.stopImmediatePropagation(), true)"""


@pytest.fixture
def backend(upstream_backend) -> Backend:
    """Only the fake upstream here: these tests set how fast each reply comes."""
    return upstream_backend


@pytest.fixture
def tabs(browser, backend) -> Iterator[tuple[ChatPage, ChatPage]]:
    """Tabs A and B, in one context (one localStorage), both loaded and ready."""
    a = open_chat_page(browser, backend.server)
    b = ChatPage(a.context, a.context.new_page(), a.origin)
    b.page.on("console", lambda m: b.console_errors.append(m.text) if m.type == "error" else None)
    b.page.on("pageerror", lambda e: b.console_errors.append(f"uncaught: {e}"))
    yield a, b
    a.context.close()


def sidebar_titles(chat: ChatPage) -> list[str]:
    return chat.page.locator("#conversation-list .open-conversation").all_text_contents()


def b_starts_a_conversation_while_a_streams(a: ChatPage, b: ChatPage, backend: Backend) -> None:
    """A sends and streams slowly; meanwhile B starts a new chat and gets a quick reply."""
    backend.script(SLOW_WORDS, interval=0.06)
    a.send("Long reply in tab A")
    a.wait_for_state("streaming")
    a.page.wait_for_function(f"() => ({STORED_REPLY_LENGTH})() > 0")
    backend.script(["Quick ", "reply"], interval=0.01)
    b.page.click("#new-chat")
    # One more save of A's lands in B before B sends: B must stay on its new chat.
    saved = b.page.evaluate(STORED_REPLY_LENGTH)
    b.page.wait_for_function(f"(n) => ({STORED_REPLY_LENGTH})() > n", arg=saved)
    assert b.exchange("Written in tab B") == "done"
    assert a.state() == "streaming"  # B's whole turn happened during A's reply


def a_finished_and_kept_both(a: ChatPage, b: ChatPage) -> None:
    """After A's reply: both conversations in storage and in both tabs' sidebars."""
    assert a.wait_for_state() == "done"
    assert a.reply_text().strip() == "".join(SLOW_WORDS).strip()
    expected = ["Written in tab B", "Long reply in tab A"]  # the newest first
    assert sidebar_titles(a) == expected
    assert sorted(a.page.evaluate(STORED_TITLES)) == sorted(expected)
    b.page.wait_for_function(  # B hears A's last save
        "() => document.querySelectorAll('#conversation-list .open-conversation').length === 2"
    )
    assert sidebar_titles(b) == expected

    a.page.reload()
    a.page.wait_for_selector("body[data-ready]")
    assert sidebar_titles(a) == expected
    assert a.reply_text().strip() == "".join(SLOW_WORDS).strip()  # A's reply, whole
    a.page.locator("#conversation-list .open-conversation").first.click()
    assert a.page.inner_text("#conversation .message.user .content") == "Written in tab B"
    assert a.reply_text().strip() == "Quick reply"
    assert a.console_errors == [] and b.console_errors == []


def test_conversation_from_another_tab_survives_a_streaming_reply(tabs, backend):
    a, b = tabs
    a.open()
    b.open()
    b_starts_a_conversation_while_a_streams(a, b, backend)
    a_finished_and_kept_both(a, b)


def test_a_save_keeps_another_tabs_conversation_it_was_not_told_about(tabs, backend):
    a, b = tabs
    a.page.add_init_script(HIDE_STORAGE_EVENTS)
    a.open()
    b.open()
    b_starts_a_conversation_while_a_streams(a, b, backend)
    a_finished_and_kept_both(a, b)
