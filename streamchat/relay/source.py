"""The seam of the per-chunk path: which reader serves an upstream body.

The fast path (streamchat.relay.direct_body) reads the upstream socket in the relay's
own greenlet; when it declines (a library upgrade changed httpx2's or httpcore2's
structure, HTTP/2, a proxy tunnel, an encoded body, the demo's in-process transport),
the public ``iter_bytes()`` path with a reader greenlet (streamchat.relay.fallback)
serves instead. Both yield the same thing. docs/architecture.md explains the seam.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2

from .direct_body import direct_body
from .fallback import with_heartbeats


def read_body(
    response: httpx2.Response, heartbeat_seconds: float, read_timeout_seconds: float
) -> tuple[Iterator[bytes | None], bool]:
    """Raw body bytes of ``response`` as they arrive, and ``None`` after each
    ``heartbeat_seconds`` of silence; with True when the fast path serves it."""
    source = direct_body(response, heartbeat_seconds, read_timeout_seconds)
    if source is not None:
        return source, True
    # iter_bytes() also undoes a content-encoding, which the fast path leaves to it.
    return with_heartbeats(response.iter_bytes(), heartbeat_seconds), False
