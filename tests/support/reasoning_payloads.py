"""What reasoning models stream, in each shape the page reads (docs/models.md): chat
deltas with ``reasoning_content`` or ``reasoning``, answer text opening with
``<think>…</think>``, and Responses API reasoning summary or reasoning text events.

Each builder returns the SSE data payloads of one whole reply: thinking ``thoughts``,
then answering ``words``; usage reports ``len(thoughts)`` reasoning tokens.
"""

from __future__ import annotations

from tests.support.payloads import chunk_payload, compact

CHAT_SHAPES = ("reasoning_content", "reasoning", "think_tag")
RESPONSES_SHAPES = ("summary", "summary_without_part_added", "reasoning_text")


def _chat_chunk(stream_id: str, delta: dict, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return compact({"id": stream_id, "object": "chat.completion.chunk", "choices": [choice]})


def chat_reasoning_payloads(
    shape: str, stream_id: str, thoughts: list[str], words: list[str], usage: bool = True
) -> list[bytes]:
    """A chat reply that thinks in ``shape`` (one of CHAT_SHAPES) and then answers."""
    if shape == "think_tag":  # a server without a reasoning parser: all of it is content
        pieces = ["<think>", *thoughts, "</think>\n\n"]
        thinking = [chunk_payload(stream_id, piece) for piece in pieces]
    else:
        thinking = [_chat_chunk(stream_id, {shape: thought}) for thought in thoughts]
    payloads = [
        chunk_payload(stream_id, "", role="assistant"),
        *thinking,
        *(chunk_payload(stream_id, word) for word in words),
        chunk_payload(stream_id, None, "stop"),
    ]
    if usage:
        output = len(thoughts) + len(words)
        counts = {
            "prompt_tokens": 5,
            "completion_tokens": output,
            "total_tokens": 5 + output,
            "completion_tokens_details": {"reasoning_tokens": len(thoughts)},
        }
        payloads.append(compact({"id": stream_id, "choices": [], "usage": counts}))
    return payloads


def responses_reasoning_payloads(
    shape: str, response_id: str, thoughts: list[str], words: list[str]
) -> list[bytes]:
    """A Responses API reply with a reasoning item in ``shape`` (one of RESPONSES_SHAPES)
    before its message."""
    thought = "".join(thoughts)
    reasoning = {"id": "rs_1", "type": "reasoning", "summary": []}
    if shape == "reasoning_text":
        at = {"item_id": "rs_1", "output_index": 0, "content_index": 0}
        kind = "response.reasoning_text"
        opened = []
    else:
        at = {"item_id": "rs_1", "output_index": 0, "summary_index": 0}
        kind = "response.reasoning_summary_text"
        part = {"type": "summary_text", "text": ""}
        added = {"type": "response.reasoning_summary_part.added", **at, "part": part}
        opened = [] if shape == "summary_without_part_added" else [added]
    text = "".join(words)
    message = {"id": "msg_1", "type": "message", "role": "assistant"}
    out_part = {"type": "output_text", "text": text, "annotations": []}
    where = {"item_id": "msg_1", "output_index": 1, "content_index": 0}
    usage = {
        "input_tokens": 5,
        "output_tokens": len(thoughts) + len(words),
        "output_tokens_details": {"reasoning_tokens": len(thoughts)},
        "total_tokens": 5 + len(thoughts) + len(words),
    }
    done_message = {**message, "status": "completed", "content": [out_part]}
    events = [
        {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}},
        {"type": "response.output_item.added", "output_index": 0, "item": reasoning},
        *opened,
        *({"type": f"{kind}.delta", **at, "delta": t} for t in thoughts),
        {"type": f"{kind}.done", **at, "text": thought},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {**message, "content": []},
        },
        {"type": "response.content_part.added", **where, "part": {**out_part, "text": ""}},
        *({"type": "response.output_text.delta", **where, "delta": w} for w in words),
        {"type": "response.output_text.done", **where, "text": text},
        {"type": "response.content_part.done", **where, "part": out_part},
        {"type": "response.output_item.done", "output_index": 1, "item": done_message},
        {
            "type": "response.completed",
            "response": {"id": response_id, "status": "completed", "usage": usage},
        },
    ]
    return [compact({**event, "sequence_number": n}) for n, event in enumerate(events)]
