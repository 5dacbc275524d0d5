"""What the budget tests in one process share: a reply whose usage says 72 tokens, an SDK
transport handler streaming it, and a chat read to its end."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import httpx2

from streamchat.budgets import TextCounts, estimate_input_tokens
from streamchat.budgets.encodings import KNOWN, load_encodings
from streamchat.settings import DEFAULT_MODEL
from tests.support.payloads import CHAT, counted_reply, sse_body

# Where scripts/setup-env.sh installs the tokenizer files (the app's instance folder).
TOKENIZERS = Path(__file__).resolve().parents[2] / "instance" / "tokenizers"

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


@cache
def text_counts() -> TextCounts:
    """A TextCounts with every known tokenizer, as an app serving OpenAI models has."""
    counts = TextCounts(load_encodings(TOKENIZERS, set(KNOWN)))
    assert set(counts.encodings) == set(KNOWN), "run scripts/setup-env.sh's install_tokenizers"
    return counts


def counted_input(messages: list[dict], model: str = DEFAULT_MODEL) -> int:
    """What the app counts for ``messages`` sent to ``model``."""
    return estimate_input_tokens(messages, model, text_counts())
