"""A finished run's lines read once as the reply a conversation keeps: its answer, its
reasoning, its usage and how it ended (in the page's words: done, incomplete, stopped,
error, cut off).

Read when the run ends, never per chunk: one JSON parse of all its lines together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_CUT_SHORT = ("length", "content_filter")
_RESPONSES_REASONING = (
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
)


@dataclass(frozen=True)
class Reply:
    """What a conversation keeps of a reply."""

    content: str
    reasoning: str | None
    usage: dict | None
    state: str  # done, incomplete, stopped, error, cut off
    error: str | None = None


@dataclass
class _Reading:
    answer: list[str]
    thoughts: list[str]
    usage: dict | None = None
    error: str | None = None
    cut_short: bool = False
    thought_part: tuple | None = None

    def think(self, text: str, part: tuple | None = None) -> None:
        # A new summary or reasoning part starts a paragraph of its own.
        if part is not None and part != self.thought_part and self.thoughts:
            self.thoughts.append("\n\n")
        self.thought_part = part
        self.thoughts.append(text)


def _read_chat(events: list, reading: _Reading) -> None:
    for event in events:
        if not isinstance(event, dict):
            continue
        if isinstance(event.get("error"), dict):
            reading.error = str(event["error"].get("message") or "")
        if isinstance(event.get("usage"), dict):
            reading.usage = event["usage"]
        for choice in event.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                delta = {}
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(thought, str):
                reading.think(thought)
            if isinstance(delta.get("content"), str):
                reading.answer.append(delta["content"])
            if choice.get("finish_reason") in _CUT_SHORT:
                reading.cut_short = True


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _read_responses(events: list, reading: _Reading) -> None:
    for event in events:
        event = _object(event)
        kind = event.get("type")
        if kind == "response.output_text.delta":
            reading.answer.append(str(event.get("delta") or ""))
        elif kind in _RESPONSES_REASONING:
            part = (event.get("item_id"), event.get("summary_index"), event.get("content_index"))
            reading.think(str(event.get("delta") or ""), part)
        elif kind in ("response.completed", "response.incomplete"):
            response = _object(event.get("response"))
            reading.usage = _object(response.get("usage")) or reading.usage
            reading.cut_short = kind == "response.incomplete"
        elif kind == "response.failed":
            error = _object(_object(event.get("response")).get("error"))
            reading.error = str(error.get("message") or "")
        elif kind == "error":
            reading.error = str(event.get("message") or "")


def _split_think(answer: str) -> tuple[str, str | None]:
    """Content that opens with <think>…</think> (a server without a reasoning parser)."""
    stripped = answer.lstrip()
    if not stripped.startswith(_THINK_OPEN):
        return answer, None
    thought, closed, rest = stripped[len(_THINK_OPEN) :].partition(_THINK_CLOSE)
    if not closed:
        return "", thought.strip()  # still thinking when it ended
    return rest.lstrip(), thought.strip()


def read_reply(api_name: str, lines: list[bytes], outcome: str, error_code: str | None) -> Reply:
    """The reply in ``lines`` (a run's NDJSON lines) of API ``api_name`` ("chat" or
    "responses"), which ended with ``outcome`` (a RunResult's)."""
    try:
        events = json.loads(b"[" + b",".join(lines) + b"]") if lines else []
    except ValueError:
        events = []  # the relay passes only JSON lines; never trust that blindly
    reading = _Reading([], [])
    (_read_chat if api_name == "chat" else _read_responses)(events, reading)
    content, thought = _split_think("".join(reading.answer))
    reasoning = "".join(reading.thoughts) or thought
    if outcome == "stopped":
        state = "stopped"
    elif error_code is not None or reading.error is not None:
        state = "error"
    elif outcome == "completed":
        state = "incomplete" if reading.cut_short else "done"
    else:
        state = "cut off"
    error = reading.error if state == "error" else None
    return Reply(content, reasoning or None, reading.usage, state, error)
