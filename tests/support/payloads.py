"""What goes over the wire in the tests: upstream payloads as OpenAI streams them (chat
chunks, usage chunks, Responses API events, SSE framing) and the request bodies clients
send, each built in one place."""

from __future__ import annotations

import json

# --- request bodies -------------------------------------------------------------------


def chat_body(content: object = "hello", model: str | None = None) -> dict:
    """A request body for /api/chat or /api/responses: one user message, maybe a model.

    ``content`` is usually text; a test of validation may pass anything.
    """
    body: dict = {"messages": [{"role": "user", "content": content}]}
    if model is not None:
        body["model"] = model
    return body


# The body most tests send; a test that needs another message or a model calls chat_body.
CHAT = chat_body()

# What the app's upstream client sends, for tests that open upstream streams themselves.
UPSTREAM_CHAT_REQUEST = {"model": "m", "messages": [], "stream": True}


# --- SSE framing ----------------------------------------------------------------------


def sse_body(payloads: list[bytes], done: bool = True) -> bytes:
    """Real SSE bytes as OpenAI sends them: ``data: <json>`` and a blank line each."""
    events = [b"data: " + p + b"\n\n" for p in payloads]
    if done:
        events.append(b"data: [DONE]\n\n")
    return b"".join(events)


# --- Chat Completions ------------------------------------------------------------------


def compact(body: dict) -> bytes:
    """JSON as OpenAI writes it on the wire: no spaces."""
    return json.dumps(body, separators=(",", ":")).encode()


def chunk_payload(
    stream_id: str, content: str | None = None, finish: str | None = None, role: str | None = None
) -> bytes:
    """One chat.completion.chunk as compact JSON bytes, like OpenAI sends."""
    delta = {} if content is None else {"content": content}
    if role:
        delta = {"role": role, **delta}
    return compact(
        {
            "id": stream_id,
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "fake-model",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
    )


def reply_payloads(stream_id: str, words: list[str]) -> list[bytes]:
    """A whole reply as OpenAI streams it: a role chunk (openai-node's accumulator
    requires one), one chunk per word, then a finish chunk."""
    return [
        chunk_payload(stream_id, "", role="assistant"),
        *(chunk_payload(stream_id, w) for w in words),
        chunk_payload(stream_id, None, "stop"),
    ]


def usage_payload(stream_id: str, prompt: int, completion: int) -> bytes:
    """The final usage chunk OpenAI sends when stream_options.include_usage is on."""
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    return compact(
        {"id": stream_id, "object": "chat.completion.chunk", "choices": [], "usage": usage}
    )


def counted_reply(stream_id: str, prompt: int, completion: int) -> list[bytes]:
    """A reply of ``completion`` one-token words and a usage chunk reporting ``prompt``
    plus ``completion`` tokens, as OpenAI streams it with include_usage on."""
    words = [f"w{i} " for i in range(completion)]
    return [*reply_payloads(stream_id, words), usage_payload(stream_id, prompt, completion)]


def numbered_chunk(i: int, finish: bool = False) -> bytes:
    """A minimal chunk with the text ``t<i> `` (or a finish chunk), for tests of how
    bodies are read rather than of what they say."""
    delta = {} if finish else {"content": f"t{i} "}
    return compact(
        {
            "id": "chatcmpl-direct",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if finish else None}],
        }
    )


# --- Responses API ---------------------------------------------------------------------


def responses_payloads(response_id: str, words: list[str]) -> list[bytes]:
    """A whole Responses API stream for a one-message reply of ``words``."""
    text = "".join(words)
    item = {"id": "msg_1", "type": "message", "role": "assistant"}
    part = {"type": "output_text", "text": text, "annotations": []}
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}

    def response(status: str, output: list) -> dict:
        return {
            "id": response_id,
            "object": "response",
            "status": status,
            "model": "fake-model",
            "output": output,
            "error": None,
            "usage": None,
        }

    events = [
        {"type": "response.created", "response": response("in_progress", [])},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **where, "part": {**part, "text": ""}},
        *({"type": "response.output_text.delta", **where, "delta": w} for w in words),
        {"type": "response.output_text.done", **where, "text": text},
        {"type": "response.content_part.done", **where, "part": part},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**item, "status": "completed", "content": [part]},
        },
        {
            "type": "response.completed",
            "response": response("completed", [{**item, "status": "completed", "content": [part]}]),
        },
    ]
    return [compact({**e, "sequence_number": n}) for n, e in enumerate(events)]
