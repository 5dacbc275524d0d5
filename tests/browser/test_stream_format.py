"""STREAM_FORMAT=sse in a real browser: the page asks for text/event-stream, reads the
SSE framing (static/sse.js) and ends the demo model's reply as it ends an NDJSON one,
for both APIs, against the real gunicorn server."""

from __future__ import annotations

import pytest

from tests.support.browser import open_chat_page
from tests.support.launch import start_gunicorn


@pytest.fixture(scope="module", params=["chat", "responses"])
def sse_server(request):
    """The demo model behind gunicorn, the page set to ask for SSE from ``CHAT_API``."""
    server = start_gunicorn(
        STREAM_FORMAT="sse", CHAT_API=request.param, DEMO_TOKENS_PER_SECOND="80"
    )
    yield request.param, server
    server.stop()


def test_page_reads_an_sse_reply_to_the_end(browser, sse_server):
    api, server = sse_server
    chat = open_chat_page(browser, server).open()
    try:
        assert chat.page.get_attribute("body", "data-stream-format") == "sse"
        with chat.page.expect_response(f"**/api/{api}") as answered:
            chat.send("Say something in markdown")
        response = answered.value
        assert response.request.headers["accept"] == "text/event-stream"
        assert response.headers["content-type"].startswith("text/event-stream")
        assert chat.wait_for_state() == "done"
        reply = chat.reply_text()
        assert len(reply) > 20, reply
        assert chat.console_errors == []
        assert chat.page.locator("#conversation .message.assistant .note").count() == 0
    finally:
        chat.context.close()
