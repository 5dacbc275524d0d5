"""The seam of the per-chunk path: which reader serves an upstream body.

The fast path (streamchat.relay.direct_body) reads the upstream socket in the relay's
own greenlet; when it declines (a library upgrade changed httpx2's or httpcore2's
structure, HTTP/2, a proxy tunnel, the demo's in-process transport),
the public ``iter_bytes()`` path with a reader greenlet (streamchat.relay.fallback)
serves instead. Both yield the same thing. docs/architecture.md explains the seam.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2

from .direct_body import direct_body
from .fallback import with_heartbeats
from .write_mark import WriteMark


def read_body(
    response: httpx2.Response,
    heartbeat_seconds: float,
    read_timeout_seconds: float,
    mark: WriteMark,
) -> tuple[Iterator[bytes | None], bool]:
    """Raw body bytes of ``response`` as they arrive, and ``None`` whenever
    ``heartbeat_seconds`` have passed since ``mark``; with True when the fast path serves
    it. The fallback's read timeout is httpx2's own (the client's read timeout)."""
    source = direct_body(response, heartbeat_seconds, read_timeout_seconds, mark)
    if source is not None:
        return source, True
    # Encoded bodies were refused before the stream started (streamchat.upstream.streams),
    # so iter_bytes() never inflates a small read into a huge one here.
    return with_heartbeats(response.iter_bytes(), heartbeat_seconds, mark), False
