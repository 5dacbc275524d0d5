"""The chat page in a real browser, against the real server: each test runs on the demo
model and on the fake upstream (see the ``backend`` fixture)."""

from __future__ import annotations

import time

from tests.support.browser import ChatPage, open_chat_page
from tests.support.waiting import wait_for

WORDS = [f"word{i} " for i in range(40)]  # fake upstream: ~1.2 s at 30 ms a word


def test_reply_grows_in_visible_steps_before_it_is_done(chat: ChatPage, backend):
    backend.script(WORDS, interval=0.03)
    chat.start_sampling()
    assert chat.exchange("Tell me something") == "done"
    samples = chat.stop_sampling()
    final = len(chat.reply_text())
    streaming = [length for _, length, state in samples if state == "streaming"]
    partial = sorted({n for n in streaming if 0 < n < final})
    # Progressive: several distinct partial lengths were on screen before the end.
    assert len(partial) >= 3, samples
    first_text = next(t for t, n, _ in samples if n > 0)
    done_at = next(t for t, _, state in samples if state == "done")
    assert done_at - first_text > 300, (first_text, done_at)
    if backend.upstream:
        assert chat.reply_text().strip() == "".join(WORDS).strip()


def test_stop_halts_the_reply_and_the_server_closes_the_upstream(chat: ChatPage, backend):
    backend.script([f"t{i} " for i in range(300)], interval=0.05)  # 15 s if left alone
    chat.send("A long answer, please")
    chat.page.wait_for_function(
        """() => {
          const all = document.querySelectorAll('#conversation .message.assistant .content');
          return all.length && all[all.length - 1].textContent.length > 0;
        }"""
    )
    chat.page.click("#stop")
    stopped_at = time.monotonic()
    assert chat.wait_for_state() == "stopped"
    shown = chat.reply_text()
    time.sleep(1.0)
    assert chat.reply_text() == shown  # no growth after Stop
    assert shown  # the partial reply stays on screen
    assert chat.page.is_visible("#send") and not chat.page.is_visible("#stop")
    assert "Stopped." in chat.page.inner_text("#conversation .message.assistant .note")
    if backend.upstream:
        record = backend.upstream.records[-1]
        assert wait_for(lambda: record.peer_closed is not None, 5.0)
        assert record.peer_closed - stopped_at < 5.0
        assert record.finished is None
        assert record.events_sent < 150


XSS = (
    'Look: <img src=x onerror="window.__xss = 1"> and '
    "<script>window.__xss = 2</script> and [link](javascript:window.__xss=3) **end**"
)


def test_html_in_a_reply_is_shown_as_text_and_never_runs(chat: ChatPage, backend):
    # The fake upstream sends the markup itself; the demo model quotes the question back.
    backend.script([XSS[i : i + 7] for i in range(0, len(XSS), 7)], interval=0.01)
    assert chat.exchange(XSS) == "done"
    conversation = chat.page.locator("#conversation")
    assert conversation.locator("img").count() == 0
    assert conversation.locator("script").count() == 0
    assert conversation.locator("a[href^='javascript']").count() == 0
    assert conversation.locator("[onerror]").count() == 0
    # The markup is visible as the text it is, and markdown around it still renders.
    reply = conversation.locator(".message.assistant .content").last
    assert "<img src=x" in reply.text_content()
    assert "<script>" in reply.text_content()
    assert reply.locator("strong").count() >= 1
    time.sleep(0.3)  # an image error event would have fired by now
    assert chat.page.evaluate("window.__xss") is None


def test_conversations_survive_a_reload(chat: ChatPage, backend):
    backend.script(["first ", "answer"])
    assert chat.exchange("First question") == "done"
    first_reply = chat.reply_text()
    chat.page.click("#new-chat")
    backend.script(["second ", "answer"])
    assert chat.exchange("Second question") == "done"

    chat.page.reload()
    chat.page.wait_for_selector("body[data-ready]")
    titles = chat.page.locator("#conversation-list .open-conversation")
    assert titles.all_text_contents() == ["Second question", "First question"]
    assert chat.page.get_attribute("#conversation-list [aria-current=page]", "data-id")
    assert "Second question" in chat.page.inner_text("#conversation .message.user .content")

    titles.nth(1).click()
    assert chat.page.inner_text("#conversation .message.user .content") == "First question"
    assert chat.reply_text() == first_reply
    assert chat.page.locator("#conversation .message").count() == 2


def test_normal_exchange_logs_no_console_errors_and_stays_on_our_origin(chat: ChatPage, backend):
    backend.script(["Here is `code`:\n\n```python\nprint('hi')\n```\n"])
    assert chat.exchange("Show me code") == "done"
    assert chat.page.locator("#conversation pre code").count() >= 1
    chat.page.reload()
    chat.page.wait_for_selector("body[data-ready=markdown]")
    assert chat.console_errors == []
    assert chat.foreign_requests == []


def test_keyboard_alone_sends_and_stops(chat: ChatPage, backend):
    page = chat.page
    backend.script([f"k{i} " for i in range(300)], interval=0.05)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")  # the skip link lands in the message box
    assert page.evaluate("document.activeElement.id") == "prompt"
    page.keyboard.type("Hello from the keyboard")
    page.keyboard.press("Enter")
    chat.wait_for_state("streaming")
    page.keyboard.press("Escape")
    assert chat.wait_for_state() == "stopped"
    assert page.inner_text("#conversation .message.user .content") == "Hello from the keyboard"

    # Again, now reaching the Stop button with Tab and pressing it with Space.
    page.keyboard.type("And once more")
    page.keyboard.press("Enter")
    chat.wait_for_state("streaming")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "stop"
    page.keyboard.press("Space")
    assert chat.wait_for_state() == "stopped"
    # Stop is gone; the focus went back to the message box, ready for the next one.
    assert page.evaluate("document.activeElement.id") == "prompt"


def test_usable_at_360px_without_horizontal_scrolling(browser, backend):
    chat = open_chat_page(browser, backend.server, viewport={"width": 360, "height": 740})
    try:
        chat.open()
        long_line = "x" * 300
        backend.script(["A long line:\n\n```\n" + long_line + "\n```\n\n", long_line, " end"])
        assert chat.exchange("Please answer with something wide " + long_line) == "done"
        # Neither the page nor any panel scrolls sideways; only code blocks may, inside.
        too_wide = chat.page.evaluate(
            """() => ['html', 'body', '.app', '.top', '#scroller', '#conversation', '.statusbar',
                      '#composer'].flatMap((selector) => {
                const el = document.querySelector(selector);
                return el.scrollWidth > el.clientWidth || el.getBoundingClientRect().right > 360
                  ? [[selector, el.scrollWidth, el.clientWidth]] : [];
              })"""
        )
        assert too_wide == []
        # Controls stay on screen: the composer and the conversations drawer.
        for selector in ("#prompt", "#send", "#sidebar-toggle"):
            box = chat.page.locator(selector).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 360, (selector, box)
        chat.page.click("#sidebar-toggle")
        assert chat.page.is_visible("#new-chat")
        assert chat.page.evaluate("document.activeElement.id") == "new-chat"
        chat.page.keyboard.press("Escape")
        assert not chat.page.is_visible("#new-chat")
        assert chat.page.evaluate("document.activeElement.id") == "sidebar-toggle"
        chat.page.click("#sidebar-toggle")
        chat.page.mouse.click(350, 400)  # beside the drawer
        assert not chat.page.is_visible("#new-chat")
    finally:
        chat.context.close()
