"""SSE on request: the relay's lines framed as OpenAI frames its own streams.

Some proxies only stream ``text/event-stream`` and hold any other type until the
response ends (Cloudflare Tunnel, Azure Static Web Apps). A client that sends
``Accept: text/event-stream`` gets the same events as ``data:`` events, heartbeats as
comment lines, and a chat stream that finished ends with ``data: [DONE]``, so OpenAI's
own SSE readers (Python ``openai.Stream``, openai-node's ``Stream``) read it. NDJSON
stays the default and does not pass through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .ndjson import HEARTBEAT_LINE
from .protocols import ChatProtocol, ResponsesProtocol

SSE_HEARTBEAT = b": keep-alive\n\n"
_DONE_EVENT = b"data: [DONE]\n\n"
# A Responses event's type, where upstreams (and our error line) put it: first.
_HEAD_TYPE = re.compile(rb'\{"type":"([A-Za-z0-9_.]+)"')


def _chat_event(line: bytes) -> bytes:
    return b"data: " + line + b"\n\n"


def _responses_event(line: bytes) -> bytes:
    head = _HEAD_TYPE.match(line)
    name = b"event: " + head.group(1) + b"\n" if head else b""
    return name + b"data: " + line + b"\n\n"


def as_sse(pieces: Iterable[bytes], protocol: ChatProtocol | ResponsesProtocol) -> Iterator[bytes]:
    """Turn the relay's NDJSON writes into SSE writes, one for one."""
    frame = _chat_event if isinstance(protocol, ChatProtocol) else _responses_event
    for piece in pieces:
        if piece == HEARTBEAT_LINE:
            yield SSE_HEARTBEAT
            continue
        yield b"".join(frame(line) for line in piece.split(b"\n") if line)
    if isinstance(protocol, ChatProtocol) and protocol.finished and not protocol.error_code:
        yield _DONE_EVENT
