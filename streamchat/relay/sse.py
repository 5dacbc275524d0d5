"""SSE on request: a run's lines framed as OpenAI frames its own streams.

Some proxies only stream ``text/event-stream`` and hold any other type until the
response ends (Cloudflare Tunnel, Azure Static Web Apps). A client that sends
``Accept: text/event-stream`` gets the same events as ``data:`` events, each with
``id: <n>`` (its 1-based position in the run, for ``Last-Event-ID``), heartbeats as
comment lines, and a chat stream that finished ends with ``data: [DONE]``, so OpenAI's
own SSE readers (Python ``openai.Stream``, openai-node's ``Stream``) read it. NDJSON
stays the default and does not pass through here.
"""

from __future__ import annotations

import re

SSE_HEARTBEAT = b": keep-alive\n\n"
SSE_DONE = b"data: [DONE]\n\n"
# A Responses event's type, where upstreams (and our error line) put it: first.
_HEAD_TYPE = re.compile(rb'\{"type":"([A-Za-z0-9_.]+)"')


def sse_events(position: int, lines: list[bytes], named: bool) -> bytes:
    """``lines`` (each ending in a newline) as SSE events numbered from ``position + 1``;
    ``named``: with an ``event: <type>`` line first, as the Responses API streams."""
    out = []
    for number, line in enumerate(lines, position + 1):
        head = _HEAD_TYPE.match(line) if named else None
        name = b"event: " + head.group(1) + b"\n" if head else b""
        out.append(b"id: %d\n%sdata: %s\n" % (number, name, line))
    return b"".join(out)
