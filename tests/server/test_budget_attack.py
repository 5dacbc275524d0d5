"""The parallel budget attack of issue 23 under real gunicorn (2 workers): 20 requests at
once, each a 4,000-character message of token-dense text, against TOKEN_BUDGET=20000/hour
and MAX_OUTPUT_TOKENS=256. The fake upstream reports the input as OpenAI's tokenizer
counts it (3 tokens a message and 3 for the reply, as OpenAI frames a chat), and a
256-token reply. Whatever the text, the person's total must stay within the budget plus
one reply's output per concurrent stream (20 x 256)."""

from __future__ import annotations

import threading

import httpx2
import pytest

from tests.support.budgets import text_counts
from tests.support.dense_text import dense_texts
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import chat_body, counted_reply

BUDGET, CAP, PARALLEL = 20_000, 256, 20
DENSE = dense_texts(4000)


def openai_prompt_tokens(request: dict) -> int:
    """The input tokens as OpenAI counts a chat sent to an o200k model."""
    encoding = text_counts().encodings["o200k_base"]
    messages = request["messages"]
    return sum(len(encoding.encode_ordinary(m["content"])) + 3 for m in messages) + 3


@pytest.fixture(scope="module")
def server():
    with FakeUpstream() as fake:
        fake.script = Script(
            payloads=counted_reply("chatcmpl-dense", prompt=0, completion=CAP),
            interval=0.002,  # about half a second a reply: the 20 overlap
            honours="max_tokens",
            count_prompt=openai_prompt_tokens,
        )
        running = start_gunicorn_against(
            fake.base_url,
            WEB_CONCURRENCY="2",
            TRUSTED_PROXY_COUNT="1",
            RATE_LIMIT="",
            TOKEN_BUDGET=f"{BUDGET}/hour",
            MAX_OUTPUT_TOKENS=str(CAP),
            OPENAI_MODELS="llama3.2:3b",
        )
        yield running
        running.stop()


def attack(server, address: str, text: str, model: str | None) -> list[int]:
    """PARALLEL chats at once from ``address``, each read to its end; their statuses."""
    body = chat_body(text)
    if model:
        body["model"] = model
    statuses: list[int] = []
    start = threading.Barrier(PARALLEL)

    def one() -> None:
        start.wait()
        with httpx2.stream(
            "POST",
            server.url + "/api/chat",
            json=body,
            headers={"X-Forwarded-For": address, "Connection": "close"},
            timeout=60,
        ) as response:
            response.read()
            statuses.append(response.status_code)

    threads = [threading.Thread(target=one) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return statuses


@pytest.mark.parametrize(
    ("kind", "model"),
    [*((kind, None) for kind in sorted(DENSE)), ("letters", "llama3.2:3b")],
)
def test_parallel_dense_text_stays_within_the_budget(server, kind, model):
    address = f"198.51.100.{sorted(DENSE).index(kind) + (100 if model else 1)}"
    statuses = attack(server, address, DENSE[kind], model)
    assert len(statuses) == PARALLEL and set(statuses) <= {200, 429}
    assert statuses.count(200) >= 1
    used = httpx2.get(server.url + "/api/budget", headers={"X-Forwarded-For": address}).json()
    assert used["used"] <= BUDGET + PARALLEL * CAP, (kind, statuses.count(200), used["used"])
