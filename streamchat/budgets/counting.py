"""What a stream counts against the budgets: the upstream's reported usage, else an
estimate (docs/budgets.md).

The count of the input reserves a reply's cost before it starts and charges a stream
that ends without usage (an older server, a stream cut off, a client that left, a
shutdown). It must never be below what the upstream will count, whatever the text, or
parallel replies of token-dense text ("a b c …", digits, punctuation, base64, emoji, rare
CJK) each overshoot by a multiple of their input:

- a model whose encoding is known (OpenAI's names, ``encoding_for``) is counted with
  tiktoken and that encoding (streamchat.budgets.encodings): the upstream's own count;
- any other model (a local server, an Azure deployment name) by the text's UTF-8 bytes:
  every tokenizer these servers use is byte-level BPE or has byte fallback, so a token
  covers at least one byte and no text has more tokens than bytes;
- 4 tokens a message for its framing (the role, the separators; it also covers the one
  leading-space marker a SentencePiece tokenizer may add), and 3 for the reply's start.

Each text's count is kept per worker (``TextCounts``, keyed by a digest of the text), so
a long conversation costs a tokenizer run only for its new messages.

The output of a stream without usage: the event lines relayed to the client, since
upstreams send about one token per streamed event. The relay counts lines already, so
the estimate costs nothing per chunk.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict

from .images import estimate_content_tokens

TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3
# Shorter texts are counted again rather than looked up: hashing them costs about as much.
_CACHED_FROM_CHARS = 256
_CACHE_ENTRIES = 4096

_O200K_PREFIXES = ("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4")
_CL100K_PREFIXES = ("gpt-4", "gpt-3.5", "gpt-35")


def encoding_for(model: str) -> str | None:
    """The tiktoken encoding of an OpenAI model name; None for any other model."""
    name = model.lower()
    if name.startswith(_O200K_PREFIXES):
        return "o200k_base"
    if name.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return None


def byte_bound(text: str) -> int:
    """At least the tokens of ``text`` in any byte-level tokenizer: its UTF-8 bytes."""
    return len(text.encode("utf-8", "surrogatepass"))


class TextCounts:
    """Token counts of texts, by encoding (tiktoken Encodings by name), the last
    ``_CACHE_ENTRIES`` of them kept in this worker."""

    def __init__(self, encodings: dict | None = None) -> None:
        self.encodings = dict(encodings or {})
        self._kept: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()  # threads under `flask run`; nothing waits inside

    def text_tokens(self, text: str, encoding: str | None) -> int:
        """The tokens of ``text`` in ``encoding`` (the byte bound when it is not loaded)."""
        tokenizer = self.encodings.get(encoding) if encoding else None
        if tokenizer is None:
            return byte_bound(text)
        if len(text) < _CACHED_FROM_CHARS:
            return len(tokenizer.encode_ordinary(text))
        raw = text.encode("utf-8", "surrogatepass")
        key = encoding.encode() + hashlib.blake2b(raw, digest_size=16).digest()
        with self._lock:
            count = self._kept.get(key)
            if count is not None:
                self._kept.move_to_end(key)
                return count
        # Special-token text ("<|endoftext|>") is plain text to the upstream too.
        count = len(tokenizer.encode_ordinary(text))
        with self._lock:
            self._kept[key] = count
            if len(self._kept) > _CACHE_ENTRIES:
                self._kept.popitem(last=False)
        return count

    def input_tokens(self, model: str, messages: list[dict]) -> int:
        """The input tokens of a conversation sent to ``model`` (see the module)."""
        encoding = encoding_for(model)

        def text_tokens(text: str) -> int:
            return self.text_tokens(text, encoding)

        content = sum(
            estimate_content_tokens(m.get("content") or "", text_tokens) for m in messages
        )
        return math.ceil(content) + TOKENS_PER_MESSAGE * len(messages) + TOKENS_PER_REPLY


def estimate_input_tokens(messages: list[dict], model: str = "", counts=None) -> int:
    """The input tokens of ``messages`` for ``model``, with ``counts`` (a TextCounts;
    without one, the byte bound)."""
    return (counts or TextCounts()).input_tokens(model, messages)


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
