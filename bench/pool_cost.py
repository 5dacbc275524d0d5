"""What one more streamed request costs the worker while others are open, by pool layout.

httpcore2's pool looks at every connection it holds when a request starts or ends, so a
request's CPU grows with the streams already open. This holds N streams open against a
local server, then opens and closes 300 more one at a time and reports the calling
thread's CPU time per request, with one pool (the SDK's default client, sized up) and
with streamchat.upstream.pools' several small ones:

    .venv/bin/python -m bench.pool_cost            # N = 10 and 400
    .venv/bin/python -m bench.pool_cost --open 10,200,500

Loopback only; every server thread and connection ends with the process.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time

import httpx2
import openai

from streamchat.upstream.pools import upstream_http_client
from streamchat.upstream.streams import open_stream

from .http1 import PLACEHOLDER_API_KEY

_REQUESTS = 300
_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
_FIRST = b'data: {"id":"x","object":"chat.completion.chunk","choices":[]}\n\n'
_BODY = {"model": "m", "messages": [], "stream": True}


def _serve(listener: socket.socket) -> None:
    """Answer each connection's requests with a stream that never ends."""

    def answer(conn: socket.socket) -> None:
        with conn:
            while True:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(65536)
                    if not data:
                        return
                    request += data
                conn.sendall(_HEAD + b"%x\r\n%s\r\n" % (len(_FIRST), _FIRST))

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=answer, args=(conn,), daemon=True).start()


def cpu_ms_per_request(http: httpx2.Client, base_url: str, open_streams: int) -> float:
    """Thread CPU per open+close of one request while ``open_streams`` stay open."""
    client = openai.OpenAI(
        api_key=PLACEHOLDER_API_KEY, base_url=base_url, max_retries=0, http_client=http
    )
    held = [open_stream(client, "/chat/completions", _BODY) for _ in range(open_streams)]
    started = time.thread_time()
    for _ in range(_REQUESTS):
        open_stream(client, "/chat/completions", _BODY).close()
    spent = time.thread_time() - started
    for stream in held:
        stream.close()
    http.close()
    return spent / _REQUESTS * 1000


def main() -> None:
    """Print one line per layout and number of open streams."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", default="10,400", help="open streams, comma-separated")
    counts = [int(n) for n in parser.parse_args().open.split(",")]
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    threading.Thread(target=_serve, args=(listener,), daemon=True).start()
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    size = 2 * max(counts) + 100
    for n in counts:
        one = openai.DefaultHttpxClient(
            limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size)
        )
        layouts = {"one pool": one, "streamchat.upstream.pools": upstream_http_client(size)}
        for name, http in layouts.items():
            cost = cpu_ms_per_request(http, base_url, n)
            print(f"{name:>17}, {n:4d} streams open: {cost:.2f} ms CPU per request")


if __name__ == "__main__":
    main()
