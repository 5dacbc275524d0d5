"""What a stream counts against the budgets: the upstream's reported usage, else an
estimate (README, "Budgets").

The estimate, for a stream with no usage (an older server, a stream cut off, a client
that left, a shutdown):

- input: the characters of every message sent upstream divided by 4, rounded up, plus
  4 per message for its framing (OpenAI's rule of thumb for English text);
- output: the event lines relayed to the client, since upstreams send about one token
  per streamed event. The relay counts lines already, so the estimate costs nothing
  per chunk.
"""

from __future__ import annotations

import math

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


def estimate_input_tokens(messages: list[dict[str, str]]) -> int:
    """The estimated input tokens of a conversation sent upstream."""
    chars = sum(len(message.get("content") or "") for message in messages)
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(messages)


def tokens_counted(usage: dict | None, estimated_input: int, lines_relayed: int) -> tuple[int, str]:
    """The tokens a stream counts, and ``"reported"`` or ``"estimated"``."""
    if usage:
        if isinstance(usage.get("total_tokens"), int):
            return usage["total_tokens"], "reported"
        parts = [usage.get(k) for k in ("input_tokens", "output_tokens")]
        if all(isinstance(p, int) for p in parts):
            return parts[0] + parts[1], "reported"
        parts = [usage.get(k) for k in ("prompt_tokens", "completion_tokens")]
        if all(isinstance(p, int) for p in parts):
            return parts[0] + parts[1], "reported"
    return estimated_input + lines_relayed, "estimated"
