"""The page's controls, scripted through the fake upstream (or, where the wire itself is
the subject, through a canned response Playwright serves): Retry after a failure or a
cut-off reply, regenerate, edit and resend, copy, switching conversations, the model
picker, and the note a rate-limited request gets. How replies are drawn is in
test_chat_rendering.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import Backend, ChatPage, assistant_contents, open_chat_page
from tests.support.fake_upstream import Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import reply_payloads


@pytest.fixture
def backend(upstream_backend) -> Backend:
    """Only the fake upstream here: these tests script its replies."""
    return upstream_backend


def sent_messages(backend: Backend) -> list[dict]:
    """The conversation the server sent upstream on the last request, system prompt first."""
    return [
        {"role": m["role"], "content": m["content"]}
        for m in backend.upstream.records[-1].request["messages"]
    ]


def test_failure_mid_stream_shows_error_and_retry_sends_again(chat: ChatPage, backend):
    # The upstream stops without finishing: the server ends the body with an error line.
    cut = reply_payloads("chatcmpl-cut", ["partial ", "answer"])[:-1]
    backend.upstream.script = Script(payloads=cut, interval=0.02, send_done=False)
    assert chat.exchange("Will this fail?") == "error"
    assert chat.page.is_visible("#retry")
    assert chat.page.locator(".message.assistant .note.error").count() == 1
    assert "partial answer" in assistant_contents(chat)[0]

    backend.script(["Second ", "try ", "worked"])
    chat.page.click("#retry")
    assert chat.wait_for_state("done") == "done"
    assert assistant_contents(chat) == ["Second try worked"]
    assert not chat.page.is_visible("#retry")
    assert chat.page.locator(".message .note").count() == 0
    # The failed reply was replaced, not sent back upstream.
    assert sent_messages(backend)[1:] == [{"role": "user", "content": "Will this fail?"}]


def test_refusal_before_streaming_shows_the_servers_message(chat: ChatPage, backend):
    leak = b'{"error":{"message":"Incorrect API key provided: sk-***6789"}}'
    backend.upstream.script = Script(status=401, error_body=leak)
    assert chat.exchange("Hello?") == "error"
    note = chat.page.inner_text(".message.assistant .note.error")
    # The server's own words for the user, never the upstream's text.
    assert len(note) > 20 and "6789" not in note
    assert chat.page.is_visible("#retry")
    assert chat.page.locator("#conversation .message.assistant .content").text_content() == ""


def test_body_ending_without_finish_or_error_is_cut_off(chat: ChatPage, backend):
    # What a dropped connection between server and browser looks like to the page.
    body = b"".join(p + b"\n" for p in reply_payloads("chatcmpl-x", ["half ", "a reply"])[:-1])
    chat.page.route(
        "**/api/chat",
        lambda route: route.fulfill(
            status=200, headers={"Content-Type": "application/x-ndjson"}, body=body
        ),
    )
    assert chat.exchange("Hi") == "cut off"
    assert chat.page.inner_text("#status").startswith("Cut off")
    assert "cut off" in chat.page.inner_text(".message.assistant .note.error")
    assert assistant_contents(chat) == ["half a reply"]
    assert chat.page.is_visible("#retry")


def test_regenerate_replaces_the_last_reply(chat: ChatPage, backend):
    backend.script(["First ", "take"])
    assert chat.exchange("Question") == "done"
    backend.script(["Second ", "take"])
    chat.page.click("button[data-action=regenerate]")
    assert chat.wait_for_state("done") == "done"
    assert assistant_contents(chat) == ["Second take"]
    assert sent_messages(backend)[1:] == [{"role": "user", "content": "Question"}]


def test_edit_and_resend_drops_what_came_after(chat: ChatPage, backend):
    backend.script(["A1"])
    assert chat.exchange("Q1") == "done"
    backend.script(["A2"])
    assert chat.exchange("Q2") == "done"

    chat.page.locator("button[data-action=edit]").first.click()
    editor = chat.page.get_by_role("textbox", name="Edited message")
    assert editor.input_value() == "Q1"
    editor.fill("Q1, edited")
    backend.script(["A1, again"])
    editor.press("Enter")
    assert chat.wait_for_state("done") == "done"
    users = chat.page.locator("#conversation .message.user .content").all_text_contents()
    assert users == ["Q1, edited"]
    assert assistant_contents(chat) == ["A1, again"]
    assert sent_messages(backend)[1:] == [{"role": "user", "content": "Q1, edited"}]


def test_edit_can_be_cancelled_with_escape(chat: ChatPage, backend):
    backend.script(["Answer"])
    assert chat.exchange("Keep me") == "done"
    chat.page.click("button[data-action=edit]")
    chat.page.get_by_role("textbox", name="Edited message").fill("Changed")
    chat.page.keyboard.press("Escape")
    assert chat.page.inner_text(".message.user .content") == "Keep me"
    assert chat.page.evaluate("document.activeElement.dataset.action") == "edit"
    assert chat.state() == "done"


def test_copy_buttons_put_code_and_replies_on_the_clipboard(browser, backend):
    chat = open_chat_page(
        browser, backend.server, permissions=["clipboard-read", "clipboard-write"]
    )
    try:
        chat.open()
        backend.script(["Run:\n\n```bash\n", "echo hi\n", "```\n"])
        assert chat.exchange("Copy test") == "done"
        chat.page.click(".copy-code")
        assert chat.page.evaluate("navigator.clipboard.readText()") == "echo hi"
        assert chat.page.inner_text(".copy-code") == "Copied"
        chat.page.click("button[data-action=copy]")
        assert chat.page.evaluate("navigator.clipboard.readText()").startswith("Run:")
    finally:
        chat.context.close()


def test_new_chat_and_switching_between_conversations(chat: ChatPage, backend):
    for n in (1, 2, 3):
        chat.page.click("#new-chat")
        backend.script([f"Reply {n}"])
        assert chat.exchange(f"Chat {n}") == "done"
    items = chat.page.locator("#conversation-list .open-conversation")
    assert items.all_text_contents() == ["Chat 3", "Chat 2", "Chat 1"]
    items.nth(2).click()
    assert assistant_contents(chat) == ["Reply 1"]
    assert chat.page.title() == "Chat 1 · streamchat"
    chat.page.once("dialog", lambda dialog: dialog.accept())
    chat.page.click("button[aria-label='Delete conversation: Chat 2']")
    assert items.all_text_contents() == ["Chat 3", "Chat 1"]
    chat.page.click("#new-chat")
    assert chat.page.locator("#conversation .message").count() == 0
    assert chat.page.is_visible("#empty")


@pytest.fixture(scope="module")
def two_model_server(fake_upstream) -> Iterator:
    """The real server allowing two models."""
    server = start_gunicorn_against(
        fake_upstream.base_url,
        OPENAI_MODEL="model-a",
        OPENAI_MODELS="model-a,model-b",
    )
    yield server
    server.stop()


def test_model_picker_sends_the_chosen_model(browser, two_model_server, fake_upstream):
    chat = open_chat_page(browser, two_model_server)
    try:
        chat.open()
        assert chat.page.is_visible("#model")
        assert chat.page.input_value("#model") == "model-a"
        chat.page.select_option("#model", "model-b")
        fake_upstream.script = Script(payloads=reply_payloads("chatcmpl-m", ["ok"]))
        assert chat.exchange("Which model?") == "done"
        assert fake_upstream.records[-1].request["model"] == "model-b"
        chat.page.reload()
        chat.page.wait_for_selector("body[data-ready]")
        assert chat.page.input_value("#model") == "model-b"
    finally:
        chat.context.close()


def test_single_model_hides_the_picker(chat: ChatPage):
    assert not chat.page.is_visible("#model")


@pytest.fixture(scope="module")
def one_request_server(fake_upstream) -> Iterator:
    """The real server allowing each client one request a minute."""
    server = start_gunicorn_against(fake_upstream.base_url, RATE_LIMIT="1/minute")
    yield server
    server.stop()


def test_rate_limited_request_says_when_to_try_again_once(
    browser, one_request_server, fake_upstream
):
    chat = open_chat_page(browser, one_request_server)
    try:
        chat.open()
        fake_upstream.script = Script(payloads=reply_payloads("chatcmpl-rl", ["ok"]))
        assert chat.exchange("First") == "done"
        assert chat.exchange("Second") == "error"
        note = chat.page.locator("#conversation .note").last.inner_text()
        assert "Too many requests" in note and note.count("Try again") == 1, note
    finally:
        chat.context.close()
