"""The WSGI floor: the least a relay costs on the app's own stack (gunicorn, gevent, WSGI).

A bare WSGI callable, no Flask, no SDK, no HTTP client library. For each
``POST /api/chat`` it opens a TCP connection to the upstream, sends the chat request,
and returns a generator that reads the upstream's socket, decodes the chunked SSE body
and yields each read's ``data:`` payloads as NDJSON lines, which gunicorn writes as one
chunk each. It does nothing else a real server must (validation, limits, logging,
heartbeats, errors beyond a 502), which is the point: the gap between this and the floor
(raw asyncio) is the price of gunicorn + gevent + WSGI's one write per item; the gap
between the app and this is the price of the app's own work.

Run under gunicorn's gevent worker (``-k gevent``), which patches sockets:
``gunicorn -k gevent -w 1 bench.wsgi_floor:app`` with ``BENCH_UPSTREAM_PORT`` set.
"""

from __future__ import annotations

import json
import os
import socket

from .floor import NdjsonFromSse
from .http1 import ChunkedDecoder, chat_request, split_head, status_code

_READ_SIZE = 65536


def _relay(upstream: socket.socket, rest: bytes):
    """NDJSON lines for the chunked SSE body that starts with ``rest``, one item per read."""
    decoder, ndjson = ChunkedDecoder(), NdjsonFromSse()
    recv = upstream.recv
    try:
        data = rest
        while True:
            if data:
                lines = ndjson.feed(decoder.feed(data))
                if lines:
                    yield lines
                if decoder.done:
                    return
            data = recv(_READ_SIZE)
            if not data:
                return  # cut off: gunicorn ends the body without its terminator
    finally:
        upstream.close()


def app(environ, start_response):
    """The WSGI callable: POST /api/chat relays; anything else is 404."""
    if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != "/api/chat":
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    messages = json.loads(environ["wsgi.input"].read(length))["messages"]
    port = int(os.environ["BENCH_UPSTREAM_PORT"])
    upstream = socket.create_connection(("127.0.0.1", port))
    upstream.sendall(chat_request(port, "bench-model", messages))
    head = b""
    while (parsed := split_head(head)) is None:
        data = upstream.recv(_READ_SIZE)
        if not data:
            break
        head += data
    if parsed is None or status_code(parsed[0]) != 200:
        upstream.close()
        start_response("502 Bad Gateway", [("Content-Length", "0")])
        return [b""]
    start_response(
        "200 OK", [("Content-Type", "application/x-ndjson"), ("Cache-Control", "no-cache")]
    )
    return _relay(upstream, parsed[2])
