"""How the page draws replies, scripted through the fake upstream: token counts, code
fences while streaming, block-wise redraws, the plain-text fallback and the libraries
arriving late, the wire adapters for both APIs, the Responses API page and dark mode.
The controls (Retry, edit, copy, ...) are in test_chat_controls.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.browser import Backend, ChatPage, assistant_contents, open_chat_page
from tests.support.fake_upstream import Script
from tests.support.launch import start_gunicorn
from tests.support.payloads import chunk_payload, reply_payloads, usage_payload


@pytest.fixture
def backend(upstream_backend) -> Backend:
    """Only the fake upstream here: these tests script its replies."""
    return upstream_backend


def test_usage_chunk_shows_token_counts(chat: ChatPage, backend):
    backend.script(["Counted ", "reply"])  # ends with a usage chunk: 5 in, 9 out
    assert chat.exchange("Count my tokens") == "done"
    assert chat.page.inner_text(".message.assistant .usage") == "Tokens: 5 in · 9 out · 14 total"


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
          const { renderContent, renderStreaming } = await import(
            new URL('./markdown.js', document.querySelector('script[type=module]').src));
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


def test_without_vendor_files_replies_are_plain_text(browser, backend):
    chat = open_chat_page(browser, backend.server)
    try:
        chat.page.route("**/static/*/vendor/**", lambda route: route.fulfill(status=404))
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


def test_libraries_arriving_late_redraw_the_replies_as_markdown(
    browser, upstream_server, fake_upstream
):
    chat = open_chat_page(browser, upstream_server)
    held = []
    try:
        # The vendor modules answer only after the page has given up waiting (3 s).
        chat.page.route("**/static/*/vendor/**/*.js", lambda route: held.append(route))
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
          const { ADAPTERS } = await import(
            new URL('./wire.js', document.querySelector('script[type=module]').src));
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
