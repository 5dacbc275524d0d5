"""The demo model's streamed bodies: OpenAI-shaped SSE events, paced like a real model.

A Chat Completions stream and a Responses API stream, each thinking first when given
something to think. Used by the demo transport (streamchat.upstream.demo) only.
"""

from __future__ import annotations

import json
import re
import time
import uuid

import httpx2

_TOKEN = re.compile(r"\s*\S+")
_FIRST_TOKEN_DELAY = 0.15  # a real model takes a moment before its first token


def _sse(payload: dict, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class _PacedStream(httpx2.SyncByteStream):
    """An SSE body that yields its events one by one, paced like a real model: the
    thinking's tokens first, then the answer's."""

    def __init__(
        self,
        *,
        model: str,
        text: str,
        tokens_per_second: float,
        prompt_tokens: int,
        max_tokens: int | None = None,
        thinking: str = "",
    ) -> None:
        tokens = _TOKEN.findall(text)
        # Like a real model, stop at the cap the request set and say so. (The demo's
        # short thinking is not counted against it: the answer is what a cap test wants.)
        self.truncated = bool(max_tokens) and len(tokens) > max_tokens
        self._tokens = tokens[:max_tokens] if self.truncated else tokens
        self._text = "".join(self._tokens)
        self._thoughts = _TOKEN.findall(thinking)
        self._thinking = "".join(self._thoughts)
        self._model = model
        self._prompt_tokens = prompt_tokens
        self._delay = 1.0 / tokens_per_second
        self._closed = False

    def _paced_tokens(self):
        """``(thinking, token)`` pairs: True while the model thinks, then False."""
        time.sleep(_FIRST_TOKEN_DELAY)
        pieces = [(True, t) for t in self._thoughts] + [(False, t) for t in self._tokens]
        for index, piece in enumerate(pieces):
            if self._closed:
                return
            if index:
                time.sleep(self._delay)
            yield piece

    def _output_tokens(self) -> int:
        return len(self._thoughts) + len(self._tokens)

    def close(self) -> None:
        self._closed = True


class DemoChatStream(_PacedStream):
    """A Chat Completions stream: role chunk, ``reasoning_content`` chunks (as llama.cpp
    sends them), content chunks, finish, usage, [DONE]."""

    def __init__(self, *, usage: bool, **paced) -> None:
        super().__init__(**paced)
        self._usage = usage

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
        for thinking, token in self._paced_tokens():
            if first:
                yield chunk({"role": "assistant", "content": ""})
                first = False
            yield chunk({"reasoning_content": token} if thinking else {"content": token})
        if self._closed:
            return
        yield chunk({}, "length" if self.truncated else "stop")
        if self._usage:
            completion = self._output_tokens()
            usage = {
                "prompt_tokens": self._prompt_tokens,
                "completion_tokens": completion,
                "total_tokens": self._prompt_tokens + completion,
                "completion_tokens_details": {"reasoning_tokens": len(self._thoughts)},
            }
            yield _sse({**base, "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"


class DemoResponsesStream(_PacedStream):
    """A Responses API stream: created, a reasoning item with its summary (part added,
    text deltas, done events), the message item (item and part added, text deltas, done
    events), completed; each event numbered by ``sequence_number`` as OpenAI does."""

    def __init__(self, *, instructions: str | None, **paced) -> None:
        super().__init__(**paced)
        self._instructions = instructions
        self._response_id = f"resp_demo{uuid.uuid4().hex}"

    def _response(self, status: str, output: list, usage: dict | None) -> dict:
        """The response object the created, in-progress and final events carry."""
        incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
        return {
            "id": self._response_id,
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

    def __iter__(self):
        sequence = iter(range(1_000_000))
        item_id = f"msg_demo{uuid.uuid4().hex}"
        response = self._response

        def event(kind: str, **fields) -> bytes:
            return _sse({"type": kind, "sequence_number": next(sequence), **fields}, kind)

        # With thinking, the reasoning item comes first and the message second.
        at = 1 if self._thoughts else 0
        where = {"item_id": item_id, "output_index": at, "content_index": 0}
        empty_part = {"type": "output_text", "text": "", "annotations": []}
        message = {"id": item_id, "type": "message", "role": "assistant"}
        reasoning = _ReasoningItem(self._thinking)
        yield event("response.created", response=response("in_progress", [], None))
        yield event("response.in_progress", response=response("in_progress", [], None))
        answering = False
        for thinking, token in self._paced_tokens():
            if thinking:
                yield from reasoning.delta(event, token)
                continue
            if not answering:
                yield from reasoning.done(event)
                added = {**message, "status": "in_progress", "content": []}
                yield event("response.output_item.added", output_index=at, item=added)
                yield event("response.content_part.added", **where, part=empty_part)
                answering = True
            yield event("response.output_text.delta", **where, delta=token, logprobs=[])
        if self._closed:
            return
        part = {**empty_part, "text": self._text}
        status = "incomplete" if self.truncated else "completed"
        done = {**message, "status": status, "content": [part]}
        yield event("response.output_text.done", **where, text=self._text, logprobs=[])
        yield event("response.content_part.done", **where, part=part)
        yield event("response.output_item.done", output_index=at, item=done)
        completion = self._output_tokens()
        usage = {
            "input_tokens": self._prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": len(self._thoughts)},
            "total_tokens": self._prompt_tokens + completion,
        }
        output = [*reasoning.output(), done]
        yield event(f"response.{status}", response=response(status, output, usage))


class _ReasoningItem:
    """The Responses API's reasoning item (output index 0) with one summary part, as OpenAI
    streams it: item and part added at the first delta, then the summary's deltas, then
    its done events when the answer starts."""

    def __init__(self, text: str) -> None:
        self._item = {"id": f"rs_demo{uuid.uuid4().hex}", "type": "reasoning"}
        self._where = {"item_id": self._item["id"], "output_index": 0, "summary_index": 0}
        self._text = text
        self._state = "new"  # new → open → done

    def delta(self, event, token: str):
        """The events for one token of the summary (the first opens the item and part)."""
        if self._state == "new":
            self._state = "open"
            yield event("response.output_item.added", output_index=0, item=self.item([]))
            part = {"type": "summary_text", "text": ""}
            yield event("response.reasoning_summary_part.added", **self._where, part=part)
        yield event("response.reasoning_summary_text.delta", **self._where, delta=token)

    def done(self, event):
        """The done events, once, if the item was opened."""
        if self._state != "open":
            return
        self._state = "done"
        part = {"type": "summary_text", "text": self._text}
        yield event("response.reasoning_summary_text.done", **self._where, text=self._text)
        yield event("response.reasoning_summary_part.done", **self._where, part=part)
        yield event("response.output_item.done", output_index=0, item=self.item([part]))

    def item(self, summary: list) -> dict:
        """The item as output_item events and the final response carry it."""
        return {**self._item, "summary": summary}

    def output(self) -> list[dict]:
        """What the final response's output holds of it."""
        return [self.item([{"type": "summary_text", "text": self._text}])] if self._text else []
