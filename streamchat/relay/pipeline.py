"""The one way into the per-chunk path: an upstream response in, NDJSON pieces out.

``relay`` picks the reader at the seam (streamchat.relay.source), times heartbeats from
the last write (streamchat.relay.write_mark) and turns the SSE bytes into lines
(streamchat.relay.ndjson). The run (streamchat.runs) calls it once per stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx2

from .ndjson import ndjson_lines
from .protocols import ChatProtocol, ResponsesProtocol, UpstreamEventError
from .source import read_body
from .write_mark import WriteMark


@dataclass(frozen=True)
class RelayLimits:
    """How often a heartbeat goes out, how long the upstream may be silent, and the
    largest single event it may send (HEARTBEAT_SECONDS, UPSTREAM_READ_TIMEOUT_SECONDS,
    MAX_UPSTREAM_EVENT_BYTES)."""

    heartbeat_seconds: float
    read_timeout_seconds: float
    max_event_bytes: int


@dataclass(frozen=True)
class Relayed:
    """One body being relayed: its pieces (NDJSON lines, a blank line for a heartbeat),
    and whether the fast path reads it (``direct``) or the fallback."""

    pieces: Iterator[bytes]
    direct: bool


def relay(
    response: httpx2.Response,
    protocol: ChatProtocol | ResponsesProtocol,
    limits: RelayLimits,
    interrupted: Callable[[], UpstreamEventError | None],
) -> Relayed:
    """Relay ``response``'s body. ``interrupted()`` says why the server closed the
    upstream itself, if it did (its error line then ends the stream)."""
    mark = WriteMark()
    source, direct = read_body(
        response, limits.heartbeat_seconds, limits.read_timeout_seconds, mark
    )
    pieces = ndjson_lines(
        source,
        protocol,
        mark=mark,
        max_event_bytes=limits.max_event_bytes,
        interrupted=interrupted,
    )
    return Relayed(pieces, direct)
