"""The built-in offline demo model: an httpx2 transport that speaks OpenAI's streaming SSE.

It is handed to the real SDK client when no API key is set, so a first run works
anywhere and exercises the whole path except the network hop. Like a reasoning model it
thinks briefly before it answers (``reasoning_content`` deltas on Chat Completions, a
reasoning summary on the Responses API), so the page's thinking view shows offline too;
a request with reasoning effort ``none`` gets no thinking.
"""

from __future__ import annotations

import json

import httpx2

from ..settings import DEFAULT_MODEL
from .demo_streams import DemoChatStream, DemoResponsesStream

DEMO_BASE_URL = "http://demo-model.invalid/v1"


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


def demo_thinking(question: str) -> str:
    """What the demo model "thinks" before it answers: short, and true to what it does."""
    asked = " ".join(question.split())[:80]
    heard = f'I was asked "{asked}".' if asked else "I was sent an empty message."
    return (
        f"{heard} No `OPENAI_API_KEY` is set, so I am the built-in demo "
        "model and cannot really answer it. I will say so plainly, quote the question back, "
        "and show how to connect a real model."
    )


def _text_of(content: object) -> str:
    """A message's text; a list of parts' text parts, and its images named, not quoted
    (a data: URL is megabytes of base64)."""
    if not isinstance(content, list):
        return str(content or "")
    parts = [p for p in content if isinstance(p, dict)]
    texts = [str(p.get("text") or "") for p in parts if p.get("type") in ("text", "input_text")]
    images = sum(1 for p in parts if p.get("type") in ("image_url", "input_image"))
    if images:
        texts.append(f"[{images} image{'s' if images > 1 else ''} attached]")
    return "\n".join(texts)


def _last_user_text(messages: list) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _thinking(question: str, effort: object) -> str:
    # REASONING_EFFORT=none asks a reasoning model not to think: nor does the demo.
    return "" if effort == "none" else demo_thinking(question)


def _prompt_tokens(messages: list, extra: str = "") -> int:
    chars = len(extra) + sum(
        len(_text_of(m.get("content"))) for m in messages if isinstance(m, dict)
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
            question = _last_user_text(messages)
            stream = DemoChatStream(
                model=body.get("model", "demo"),
                text=demo_reply(question),
                thinking=_thinking(question, body.get("reasoning_effort")),
                tokens_per_second=self._tokens_per_second,
                usage=bool((body.get("stream_options") or {}).get("include_usage")),
                prompt_tokens=_prompt_tokens(messages),
                max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
            )
        elif request.method == "POST" and path.endswith("/responses"):
            body = json.loads(request.read())
            messages = body.get("input") or []
            instructions = body.get("instructions")
            question = _last_user_text(messages)
            stream = DemoResponsesStream(
                model=body.get("model", "demo"),
                text=demo_reply(question),
                thinking=_thinking(question, (body.get("reasoning") or {}).get("effort")),
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
