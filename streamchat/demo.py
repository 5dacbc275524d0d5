"""The built-in offline demo model: an httpx2 transport that speaks OpenAI's streaming SSE.

It is handed to the real SDK client when no API key is set, so a first run works
anywhere and exercises the whole path except the network hop.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import httpx2

DEMO_BASE_URL = "http://demo-model.invalid/v1"
_TOKEN = re.compile(r"\s*\S+")
_FIRST_TOKEN_DELAY = 0.15  # a real model takes a moment before its first token


def demo_reply(question: str) -> str:
    """The demo model's answer: what it is, what was asked, and how to use a real model."""
    asked = question.strip()[:400] or "(an empty message)"
    quoted = "\n".join("> " + line for line in asked.splitlines())
    return (
        "**This is streamchat's offline demo model**, not a real language model. No "
        "`OPENAI_API_KEY` is set, so the server answers with this built-in reply, streamed "
        "token by token through the same code path a real model uses.\n\n"
        f"You asked:\n\n{quoted}\n\n"
        "To talk to a real model, set a key and restart the server:\n\n"
        "```bash\nexport OPENAI_API_KEY=...        # your OpenAI key\n"
        "export OPENAI_MODEL=gpt-5.4-mini   # optional\n```\n\n"
        "Or point it at a local OpenAI-compatible server:\n\n"
        "- **Ollama**: `OPENAI_BASE_URL=http://127.0.0.1:11434/v1`, "
        "`OPENAI_API_KEY=ollama`, `OPENAI_MODEL=llama3.2`\n"
        "- **llama.cpp** (`llama-server`): `OPENAI_BASE_URL=http://127.0.0.1:8080/v1`, "
        "`OPENAI_API_KEY=none`\n\n"
        "The README's configuration table lists every setting."
    )


def _sse(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class DemoChatStream(httpx2.SyncByteStream):
    """The SSE body of one demo reply, paced like a real model."""

    def __init__(
        self, model: str, text: str, tokens_per_second: float, usage: bool, prompt_chars: int
    ):
        self._model = model
        self._tokens = _TOKEN.findall(text)
        self._delay = 1.0 / tokens_per_second
        self._usage = usage
        self._prompt_tokens = max(1, prompt_chars // 4)
        self._closed = False

    def __iter__(self):
        base = {
            "id": f"chatcmpl-demo-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self._model,
            "system_fingerprint": "streamchat-demo",
        }

        def chunk(delta: dict, finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _sse({**base, "choices": [choice]})

        time.sleep(_FIRST_TOKEN_DELAY)
        yield chunk({"role": "assistant", "content": ""})
        for token in self._tokens:
            if self._closed:
                return
            time.sleep(self._delay)
            yield chunk({"content": token})
        yield chunk({}, "stop")
        if self._usage:
            completion = len(self._tokens)
            usage = {
                "prompt_tokens": self._prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": self._prompt_tokens + completion,
            }
            yield _sse({**base, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"

    def close(self) -> None:
        self._closed = True


class DemoTransport(httpx2.BaseTransport):
    """Answers ``POST .../chat/completions`` with a streamed demo reply; 404 otherwise."""

    def __init__(self, tokens_per_second: float = 40.0) -> None:
        self._tokens_per_second = tokens_per_second

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Serve one request in-process, as an OpenAI-compatible server would."""
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return httpx2.Response(
                404, json={"error": {"message": "not found", "type": "invalid_request_error"}}
            )
        body = json.loads(request.read())
        messages = body.get("messages") or []
        question = next(
            (m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), ""
        )
        prompt_chars = sum(len(str(m.get("content") or "")) for m in messages)
        stream = DemoChatStream(
            model=body.get("model", "demo"),
            text=demo_reply(str(question)),
            tokens_per_second=self._tokens_per_second,
            usage=bool((body.get("stream_options") or {}).get("include_usage")),
            prompt_chars=prompt_chars,
        )
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream; charset=utf-8"}, stream=stream
        )
