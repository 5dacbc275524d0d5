"""What a stream counts against the budgets: the upstream's reported usage, else an
estimate (docs/budgets.md).

The estimate of the input, used to reserve a reply's cost before it starts and to
charge a stream that ends without usage (an older server, a stream cut off, a client
that left, a shutdown):

- ASCII text at 4 characters a token (OpenAI's rule of thumb for English);
- every other character at half its UTF-8 bytes: 1 token for a 2-byte letter, 1.5 for
  CJK, 2 for an emoji or a rare ideograph. Tokenizers give such text about a token a
  character or more, so counting it at 4 characters a token would let a conversation in
  Chinese, or made of rare characters on purpose, reserve a quarter of what it costs;
- 4 tokens a message for its framing.

The output of a stream without usage: the event lines relayed to the client, since
upstreams send about one token per streamed event. The relay counts lines already, so
the estimate costs nothing per chunk.
"""

from __future__ import annotations

import math

from .images import estimate_content_tokens

ASCII_CHARS_PER_TOKEN = 4
OTHER_BYTES_PER_TOKEN = 2
TOKENS_PER_MESSAGE = 4


def estimate_text_tokens(text: str) -> float:
    """The estimated tokens of ``text`` (see the module's docstring)."""
    if text.isascii():
        return len(text) / ASCII_CHARS_PER_TOKEN
    ascii_chars = len(text.encode("ascii", "ignore"))
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    return ascii_chars / ASCII_CHARS_PER_TOKEN + other_bytes / OTHER_BYTES_PER_TOKEN


def estimate_input_tokens(messages: list[dict]) -> int:
    """The estimated input tokens of a conversation sent upstream (images by the tile
    rule, streamchat.budgets.images)."""
    text = sum(
        estimate_content_tokens(message.get("content") or "", estimate_text_tokens)
        for message in messages
    )
    return math.ceil(text) + TOKENS_PER_MESSAGE * len(messages)


def tokens_counted(usage: dict | None, estimated_input: int, lines_relayed: int) -> tuple[int, str]:
    """The tokens a stream counts, and ``"reported"`` or ``"estimated"``."""
    reported = _reported(usage) if usage else None
    # A negative count (a broken or hostile upstream) must not give budget back.
    if reported is not None and reported >= 0:
        return reported, "reported"
    return estimated_input + lines_relayed, "estimated"


def _reported(usage: dict) -> int | None:
    if isinstance(usage.get("total_tokens"), int):
        return usage["total_tokens"]
    for pair in (("input_tokens", "output_tokens"), ("prompt_tokens", "completion_tokens")):
        parts = [usage.get(key) for key in pair]
        if all(isinstance(part, int) for part in parts):
            return parts[0] + parts[1]
    return None
