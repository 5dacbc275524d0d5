"""What the budget tests in one process share: a reply whose usage says 72 tokens, an SDK
transport handler streaming it, and a chat read to its end."""

from __future__ import annotations

import httpx2

from tests.support.payloads import CHAT, counted_reply, sse_body

REPLY = counted_reply("chatcmpl-budget", prompt=12, completion=60)  # 72 tokens


def sse_handler(payloads=REPLY, done=True):
    """An SDK transport handler answering every request with ``payloads`` as SSE."""

    def handler(request):
        body = sse_body(payloads, done=done)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return handler


def reply(client, body=CHAT):
    """POST a chat and read the stream to its end (so it is counted before the next)."""
    response = client.post("/api/chat", json=body)
    response.get_data()
    return response
