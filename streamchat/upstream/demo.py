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

from ..settings import DEFAULT_MODEL

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
        f"export OPENAI_MODEL={DEFAULT_MODEL}   # optional\n```\n\n"
        "Or point it at a local OpenAI-compatible server:\n\n"
        "- **Ollama**: `OPENAI_BASE_URL=http://127.0.0.1:11434/v1`, "
        "`OPENAI_API_KEY=ollama`, `OPENAI_MODEL=llama3.2`\n"
        "- **llama.cpp** (`llama-server`): `OPENAI_BASE_URL=http://127.0.0.1:8080/v1`, "
        "`OPENAI_API_KEY=none`\n\n"
        "docs/configuration.md lists every setting."
    )


def _sse(payload: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class _PacedStream(httpx2.SyncByteStream):
    """An SSE body that yields its events one by one, paced like a real model."""

    def __init__(self, text: str, tokens_per_second: float, max_tokens: int | None) -> None:
        tokens = _TOKEN.findall(text)
        # Like a real model, stop at the cap the request set and say so.
        self.truncated = bool(max_tokens) and len(tokens) > max_tokens
        self._tokens = tokens[:max_tokens] if self.truncated else tokens
        self._text = "".join(self._tokens)
        self._delay = 1.0 / tokens_per_second
        self._closed = False

    def _paced_tokens(self):
        time.sleep(_FIRST_TOKEN_DELAY)
        for index, token in enumerate(self._tokens):
            if self._closed:
                return
            if index:
                time.sleep(self._delay)
            yield token

    def close(self) -> None:
        self._closed = True


class DemoChatStream(_PacedStream):
    """A Chat Completions stream: role chunk, content chunks, finish, usage, [DONE]."""

    def __init__(
        self,
        model: str,
        text: str,
        tokens_per_second: float,
        usage: bool,
        prompt_tokens: int,
        max_tokens: int | None = None,
    ):
        super().__init__(text, tokens_per_second, max_tokens)
        self._model = model
        self._usage = usage
        self._prompt_tokens = prompt_tokens

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

        first = True
        for token in self._paced_tokens():
            if first:
                yield chunk({"role": "assistant", "content": ""})
                first = False
            yield chunk({"content": token})
        if self._closed:
            return
        yield chunk({}, "length" if self.truncated else "stop")
        if self._usage:
            completion = len(self._tokens)
            usage = {
                "prompt_tokens": self._prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": self._prompt_tokens + completion,
            }
            yield _sse({**base, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"


class DemoResponsesStream(_PacedStream):
    """A Responses API stream: created, item and part added, text deltas, done events,
    completed; each event numbered by ``sequence_number`` as OpenAI does."""

    def __init__(
        self,
        model: str,
        text: str,
        tokens_per_second: float,
        prompt_tokens: int,
        instructions: str | None,
        max_tokens: int | None = None,
    ):
        super().__init__(text, tokens_per_second, max_tokens)
        self._model = model
        self._prompt_tokens = prompt_tokens
        self._instructions = instructions

    def __iter__(self):
        sequence = iter(range(1_000_000))
        response_id = f"resp_demo{uuid.uuid4().hex}"
        item_id = f"msg_demo{uuid.uuid4().hex}"

        def event(kind: str, **fields) -> bytes:
            return _sse({"type": kind, "sequence_number": next(sequence), **fields}, kind)

        def response(status: str, output: list, usage: dict | None) -> dict:
            incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
            return {
                "id": response_id,
                "object": "response",
                "created_at": int(time.time()),
                "status": status,
                "error": None,
                "incomplete_details": incomplete,
                "instructions": self._instructions,
                "model": self._model,
                "output": output,
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "usage": usage,
            }

        where = {"item_id": item_id, "output_index": 0, "content_index": 0}
        empty_part = {"type": "output_text", "text": "", "annotations": []}
        message = {"id": item_id, "type": "message", "role": "assistant"}
        yield event("response.created", response=response("in_progress", [], None))
        yield event("response.in_progress", response=response("in_progress", [], None))
        first = True
        for token in self._paced_tokens():
            if first:
                added = {**message, "status": "in_progress", "content": []}
                yield event("response.output_item.added", output_index=0, item=added)
                yield event("response.content_part.added", **where, part=empty_part)
                first = False
            yield event("response.output_text.delta", **where, delta=token, logprobs=[])
        if self._closed:
            return
        part = {**empty_part, "text": self._text}
        status = "incomplete" if self.truncated else "completed"
        done = {**message, "status": status, "content": [part]}
        yield event("response.output_text.done", **where, text=self._text, logprobs=[])
        yield event("response.content_part.done", **where, part=part)
        yield event("response.output_item.done", output_index=0, item=done)
        completion = len(self._tokens)
        usage = {
            "input_tokens": self._prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self._prompt_tokens + completion,
        }
        yield event(f"response.{status}", response=response(status, [done], usage))


def _last_user_text(messages: list) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _prompt_tokens(messages: list, extra: str = "") -> int:
    chars = len(extra) + sum(
        len(str(m.get("content") or "")) for m in messages if isinstance(m, dict)
    )
    return max(1, chars // 4)  # about four characters a token


class DemoTransport(httpx2.BaseTransport):
    """Answers ``POST .../chat/completions`` and ``POST .../responses`` with a streamed
    demo reply; 404 otherwise."""

    def __init__(self, tokens_per_second: float = 40.0) -> None:
        self._tokens_per_second = tokens_per_second

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Serve one request in-process, as an OpenAI-compatible server would."""
        path = request.url.path
        if request.method == "POST" and path.endswith("/chat/completions"):
            body = json.loads(request.read())
            messages = body.get("messages") or []
            stream = DemoChatStream(
                model=body.get("model", "demo"),
                text=demo_reply(_last_user_text(messages)),
                tokens_per_second=self._tokens_per_second,
                usage=bool((body.get("stream_options") or {}).get("include_usage")),
                prompt_tokens=_prompt_tokens(messages),
                max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
            )
        elif request.method == "POST" and path.endswith("/responses"):
            body = json.loads(request.read())
            messages = body.get("input") or []
            instructions = body.get("instructions")
            stream = DemoResponsesStream(
                model=body.get("model", "demo"),
                text=demo_reply(_last_user_text(messages)),
                tokens_per_second=self._tokens_per_second,
                prompt_tokens=_prompt_tokens(messages, instructions or ""),
                instructions=instructions,
                max_tokens=body.get("max_output_tokens"),
            )
        else:
            error = {"error": {"message": "Not found.", "type": "invalid_request_error"}}
            return httpx2.Response(404, json=error)
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream; charset=utf-8"}, stream=stream
        )
