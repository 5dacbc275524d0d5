"""streamchat.upstream.pools: the upstream client's connection pools."""

from __future__ import annotations

import httpx2

from streamchat.relay import direct_body
from streamchat.upstream.pools import SPARE_CONNECTIONS, RoundRobinTransport, upstream_http_client
from streamchat.upstream.streams import open_stream
from tests.support.payloads import UPSTREAM_CHAT_REQUEST, numbered_chunk, sse_body
from tests.support.raw_server import HEADERS_CHUNKED, RawServer, chunk, client_for


def pools_of(client: httpx2.Client) -> list[httpx2.HTTPTransport]:
    transport = client._transport
    assert isinstance(transport, RoundRobinTransport)
    return transport.transports


def test_pools_hold_a_connection_for_every_stream_place():
    for max_streams in (1, 150, 500, 10_000):
        pools = pools_of(upstream_http_client(max_streams))
        limits = [pool._pool._max_connections for pool in pools]
        kept = [pool._pool._max_keepalive_connections for pool in pools]
        # Any one pool may hold every place: the pools are taken in turn, not by load.
        assert min(limits) >= max_streams + SPARE_CONNECTIONS
        assert sum(kept) >= max_streams + SPARE_CONNECTIONS  # idle ones kept for every place
        assert len(pools) <= 16 and max(kept) - min(kept) <= 1


def test_a_pool_holding_more_than_its_share_never_makes_a_stream_wait():
    places = 40  # two pools, keeping 28 idle connections each
    step = [HEADERS_CHUNKED + chunk(sse_body([numbered_chunk(0)], done=False)), 10.0]
    server = RawServer(*[[step] for _ in range(60)])
    client = client_for(
        server,
        http_client=upstream_http_client(places),
        timeout=httpx2.Timeout(5.0, pool=1.0),  # a wait for a connection fails fast
    )
    streams = [
        open_stream(client, "/chat/completions", UPSTREAM_CHAT_REQUEST) for _ in range(places)
    ]
    try:
        # The streams that went to the second pool end; the next 20 take the pools in
        # turn, so the first pool ends up holding 30 of the 40 open streams.
        for stream in streams[1::2]:
            stream.close()
        streams = streams[::2] + [
            open_stream(client, "/chat/completions", UPSTREAM_CHAT_REQUEST) for _ in range(20)
        ]
        assert len(streams) == places and server.connections == 60
    finally:
        for stream in streams:
            stream.close()


def test_requests_take_the_pools_in_turn_and_close_closes_them_all():
    seen = []

    def make(name):
        return httpx2.MockTransport(lambda request: seen.append(name) or httpx2.Response(204))

    transport = RoundRobinTransport([make("a"), make("b"), make("c")])
    with httpx2.Client(transport=transport) as client:
        for _ in range(6):
            client.get("http://127.0.0.1:9/")
    assert seen == ["a", "b", "c", "a", "b", "c"]


def test_as_many_streams_as_places_open_at_once_and_are_read_directly():
    places = 40  # two pools
    step = [HEADERS_CHUNKED + chunk(sse_body([numbered_chunk(0)], done=False)), 10.0]
    server = RawServer(*[[step] for _ in range(places)])
    http = upstream_http_client(places)
    client = client_for(server, http_client=http)
    streams = [
        open_stream(client, "/chat/completions", UPSTREAM_CHAT_REQUEST) for _ in range(places)
    ]
    try:
        assert server.connections == places
        assert all(direct_body._parser_and_socket(s.response) for s in streams)
    finally:
        for stream in streams:
            stream.close()
        http.close()
