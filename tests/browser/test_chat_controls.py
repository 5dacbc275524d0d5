"""The page's controls and states, scripted through the fake upstream (or, where the
wire itself is the subject, through a canned response Playwright serves)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.browser.conftest import (
    Backend,
    ChatPage,
    open_chat_page,
    usage_payload,
)
from tests.conftest import start_gunicorn, start_gunicorn_against
from tests.fake_upstream import Script, chunk_payload, reply_payloads


@pytest.fixture
def backend(request) -> Backend:
    """Only the fake upstream here: these tests script its replies."""
    upstream = request.getfixturevalue("fake_upstream")
    return Backend("upstream", request.getfixturevalue("upstream_server"), upstream)


def sent_messages(backend: Backend) -> list[dict]:
    """The conversation the server sent upstream on the last request, system prompt first."""
    return [
        {"role": m["role"], "content": m["content"]}
        for m in backend.upstream.records[-1].request["messages"]
    ]


def assistant_contents(chat: ChatPage) -> list[str]:
    """Each reply's text as shown."""
    contents = chat.page.locator("#conversation .message.assistant .content").all_text_contents()
    return [text.strip() for text in contents]


def test_usage_chunk_shows_token_counts(chat: ChatPage, backend):
    backend.script(["Counted ", "reply"])  # ends with a usage chunk: 5 in, 9 out
    assert chat.exchange("Count my tokens") == "done"
    assert chat.page.inner_text(".message.assistant .usage") == "Tokens: 5 in · 9 out · 14 total"


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


def test_open_code_fence_renders_as_code_while_streaming(chat: ChatPage, backend):
    words = ["Here:\n\n", "```python\n", "def answer():\n", "    return 42\n", "```\n", "Done."]
    payloads = [*reply_payloads("chatcmpl-fence", words), usage_payload("chatcmpl-fence", 1, 1)]
    # Payload 0 is the role chunk, so the closing fence is payload 5: hold before it.
    backend.upstream.script = Script(payloads=payloads, interval=0.02, pauses={5: 2.0})
    chat.send("Code please")
    chat.page.wait_for_function(
        "() => (document.querySelector('#conversation pre code') || {}).textContent"
        "?.includes('return 42')"
    )
    assert chat.state() == "streaming"
    mid = chat.reply_text()
    assert "```" not in mid  # the fence is markup, not text, even while open
    assert chat.page.locator("#conversation pre code.language-python .hljs-keyword").count() >= 1
    assert chat.wait_for_state() == "done"
    assert chat.page.inner_text(".message.assistant .content p >> nth=-1") == "Done."


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


def test_without_vendor_files_replies_are_plain_text(browser, backend):
    chat = open_chat_page(browser, backend.server)
    try:
        chat.page.route("**/static/vendor/**", lambda route: route.fulfill(status=404))
        chat.open()
        assert chat.page.get_attribute("body", "data-ready") == "plain"
        reply = '**bold** <img src=x onerror="window.__xss = 1"> `code`'
        backend.script([reply[:10], reply[10:]])
        assert chat.exchange("Plain please") == "done"
        assert assistant_contents(chat) == [reply]
        assert chat.page.locator("#conversation img, #conversation strong").count() == 0
        assert chat.page.evaluate("window.__xss") is None
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


def test_dark_mode_follows_the_system_setting(browser, backend):
    colours = {}
    for scheme in ("light", "dark"):
        chat = open_chat_page(browser, backend.server, color_scheme=scheme)
        try:
            chat.open()
            colours[scheme] = chat.page.evaluate("getComputedStyle(document.body).backgroundColor")
        finally:
            chat.context.close()
    assert colours == {"light": "rgb(255, 255, 255)", "dark": "rgb(20, 20, 22)"}


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
def responses_demo_server() -> Iterator:
    """The real server on the demo model, with the page using the Responses API."""
    server = start_gunicorn(CHAT_API="responses", DEMO_TOKENS_PER_SECOND="80")
    yield server
    server.stop()


def test_responses_api_page_streams_from_api_responses(browser, responses_demo_server):
    chat = open_chat_page(browser, responses_demo_server)
    posts = []
    chat.page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    try:
        chat.open()
        assert chat.page.get_attribute("body", "data-api") == "responses"
        chat.start_sampling()
        assert chat.exchange("Hello over Responses") == "done"
        lengths = {n for _, n, state in chat.stop_sampling() if state == "streaming"}
        assert len(lengths - {0, len(chat.reply_text())}) >= 3
        assert "offline demo model" in chat.reply_text()
        assert posts == [responses_demo_server.url + "/api/responses"]
        assert chat.page.inner_text(".message.assistant .usage").startswith("Tokens:")
        assert chat.console_errors == []
    finally:
        chat.context.close()


def test_wire_adapters_map_lines_to_page_events(chat: ChatPage):
    """Both adapters, fed the lines each API sends, in the browser's own module."""
    lines = {
        "chat": [
            json.loads(chunk_payload("c", "Hi")),
            json.loads(chunk_payload("c", None, "stop")),
            json.loads(usage_payload("c", 3, 4)),
            json.loads(chunk_payload("c", None, "length")),
            {"choices": [], "error": {"message": "upstream broke"}},
        ],
        "responses": [
            {"type": "response.output_text.delta", "delta": "Hi"},
            {
                "type": "response.completed",
                "response": {"usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}},
            },
            {
                "type": "response.incomplete",
                "response": {"incomplete_details": {"reason": "max_output_tokens"}},
            },
            {"type": "response.failed", "response": {"error": {"message": "model failed"}}},
            {"type": "error", "code": "upstream_cut_off", "message": "cut"},
            {"type": "response.created", "response": {}},
        ],
    }
    events = chat.page.evaluate(
        """async (lines) => {
          const { ADAPTERS } = await import('/static/chat.js');
          const out = {};
          for (const api of Object.keys(lines)) {
            out[api] = lines[api].map((line) => ADAPTERS[api].events(line));
          }
          return out;
        }""",
        lines,
    )
    usage = {"type": "usage", "usage": {"input": 3, "output": 4, "total": 7}}
    limit = {"type": "incomplete", "message": "The reply reached the model's length limit."}
    assert events["chat"] == [
        [{"type": "text", "text": "Hi"}],
        [{"type": "end"}],
        [usage],
        [limit],
        [{"type": "error", "message": "upstream broke"}],
    ]
    assert events["responses"] == [
        [{"type": "text", "text": "Hi"}],
        [usage, {"type": "end"}],
        [limit],
        [{"type": "error", "message": "model failed"}],
        [{"type": "error", "message": "cut"}],
        [],
    ]


def test_streaming_redraws_only_the_last_block(chat: ChatPage, backend):
    words = ["First paragraph.\n\n", "Second paragraph.\n\n", "Third", " grows", " slowly."]
    backend.script(words, interval=0.3)
    chat.send("Blocks")
    first = "document.querySelector('#conversation .message.assistant .content p')"
    chat.page.wait_for_function(f"() => {first}?.textContent === 'First paragraph.'")
    chat.page.evaluate(f"() => {{ {first}.dataset.mark = 'kept'; }}")
    chat.page.wait_for_function(
        "() => document.querySelector('#conversation').textContent.includes('Third grows')"
    )
    assert chat.state() == "streaming"
    # A settled block is the same element frames later: it was not rendered again.
    assert chat.page.evaluate(f"() => {first}.dataset.mark") == "kept"
    assert chat.wait_for_state() == "done"


def test_incremental_render_equals_a_whole_render(chat: ChatPage):
    """Fed a long reply 24 characters at a time, the block-wise renderer ends with exactly
    the DOM a single render of the whole text makes."""
    same = chat.page.evaluate(
        """async () => {
          const { renderContent, renderStreaming } = await import('/static/chat.js');
          const unit = "Text with **bold**, `code` and [a link](http://127.0.0.1/).\\n\\n" +
            "```python\\ndef f(x):\\n    return x * 2  # twice\\n```\\n\\n" +
            "1. one\\n2. two\\n\\n| a | b |\\n|---|:-:|\\n| 1 | 2 |\\n\\n> quote\\n\\n";
          const full = unit.repeat(12);
          const content = document.createElement('div');
          const view = { message: { content: "" }, content, blocks: [] };
          for (let i = 24; i < full.length + 24; i += 24) {
            view.message.content = full.slice(0, i);
            renderStreaming(view);
          }
          const whole = document.createElement('div');
          renderContent(whole, full);
          return whole.innerHTML === [...view.content.children].map((c) => c.innerHTML).join('');
        }"""
    )
    assert same is True


def test_libraries_arriving_late_redraw_the_replies_as_markdown(
    browser, upstream_server, fake_upstream
):
    chat = open_chat_page(browser, upstream_server)
    held = []
    try:
        # The vendor modules answer only after the page has given up waiting (3 s).
        chat.page.route("**/static/vendor/**/*.js", lambda route: held.append(route))
        chat.open()
        assert chat.page.get_attribute("body", "data-ready") == "plain"
        fake_upstream.script = Script(
            payloads=reply_payloads("chatcmpl-late", ["**bold**", " end"])
        )
        assert chat.exchange("Markdown, later") == "done"
        assert chat.page.locator("#conversation strong").count() == 0
        for route in held:
            route.continue_()
        chat.page.wait_for_selector("body[data-ready=markdown]")
        assert chat.page.locator("#conversation .message.assistant strong").all_text_contents() == [
            "bold"
        ]
        assert assistant_contents(chat) == ["bold end"]  # drawn once, not text then markdown
    finally:
        chat.context.close()


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
