"""The HTTP client for a real upstream: connection pools sized for the stream limit.

httpcore2's pool looks at every connection it holds each time a request starts or
ends, so with one pool per worker a request costs time in proportion to the streams
already open (bench/README.md has the figures). Several smaller pools,
taken in turn, keep that scan short (the scan covers the connections a pool holds, not
its limit). Each is an ordinary httpx2.HTTPTransport, so proxies, TLS and keep-alive
behave as without this.
"""

from __future__ import annotations

import itertools
import math

import httpx2
import openai

STREAMS_PER_POOL = 32
MAX_POOLS = 16
# Readiness checks need a few connections beyond the streams themselves.
SPARE_CONNECTIONS = 16


class RoundRobinTransport(httpx2.BaseTransport):
    """Sends each request through the next of several transports, in turn."""

    def __init__(self, transports: list[httpx2.BaseTransport]) -> None:
        self.transports = transports
        self._next = itertools.cycle(transports)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Hand ``request`` to the next transport."""
        return next(self._next).handle_request(request)

    def close(self) -> None:
        """Close every transport (and so every pooled connection)."""
        for transport in self.transports:
            transport.close()


def upstream_http_client(max_streams: int) -> httpx2.Client:
    """The SDK's default httpx2 client (its timeouts, redirects), with pools that together
    keep a connection alive for each of ``max_streams`` streams when idle: a busy worker
    then rarely pays a new TLS handshake for a new stream (idle ones still close after
    httpx2's 5 s keep-alive expiry).

    Requests take the pools in turn whatever they hold, and streams end at different
    times, so one pool may hold far more than its share: each may open as many
    connections as the whole worker needs. A stream the worker admitted never waits
    for a connection; MAX_STREAMS_PER_WORKER is what bounds the total."""
    connections = max_streams + SPARE_CONNECTIONS
    pools = min(MAX_POOLS, max(1, math.ceil(connections / STREAMS_PER_POOL)))
    per_pool = math.ceil(connections / pools)
    limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=per_pool)
    return openai.DefaultHttpxClient(
        transport=RoundRobinTransport([httpx2.HTTPTransport(limits=limits) for _ in range(pools)])
    )
