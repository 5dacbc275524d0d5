"""What opening one streamed upstream request costs, layer by layer.

The app opens each stream through the official SDK (``client.post``, as
streamchat.upstream.streams does), which builds the request with httpx2 and sends it through
httpcore2. This opens and closes 300 requests against a local server through each layer
in turn and reports the calling thread's CPU time per request:

    .venv/bin/python -m bench.request_cost

- ``sdk``: ``client.post(..., stream=True)``, the app's way;
- ``httpx2``: the same request built and sent by the SDK's own httpx2 client;
- ``socket``: connect, write the request bytes, read the response head, close.

Each request is closed before its body ends, so every one makes a new connection, as
most do in a burst of new streams. Loopback only; the server thread ends with the process.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import openai

from streamchat.upstream.pools import upstream_http_client
from streamchat.upstream.streams import open_stream

from .http1 import PLACEHOLDER_API_KEY
from .pool_cost import _serve

_REQUESTS = 300
_WARM_UP = 30
_BODY = {"model": "m", "messages": [{"role": "user", "content": "Hello there"}], "stream": True}


def cpu_ms_per_request(open_and_close) -> float:
    """Thread CPU per call of ``open_and_close``, after a warm-up."""
    for _ in range(_WARM_UP):
        open_and_close()
    started = time.thread_time()
    for _ in range(_REQUESTS):
        open_and_close()
    return (time.thread_time() - started) / _REQUESTS * 1000


def main() -> None:
    """Print one line per layer."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    threading.Thread(target=_serve, args=(listener,), daemon=True).start()
    port = listener.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/v1"
    http = upstream_http_client(100)
    client = openai.OpenAI(
        api_key=PLACEHOLDER_API_KEY, base_url=base_url, max_retries=0, http_client=http
    )
    content = json.dumps(_BODY).encode()

    def sdk() -> None:
        open_stream(client, "/chat/completions", _BODY).close()  # exactly the app's call

    def http_only() -> None:
        request = http.build_request(
            "POST",
            f"{base_url}/chat/completions",
            content=content,
            headers={
                "Authorization": f"Bearer {PLACEHOLDER_API_KEY}",
                "Content-Type": "application/json",
            },
        )
        http.send(request, stream=True).close()

    def socket_only() -> None:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(content), content)
            )
            conn.recv(65536)

    for name, layer in (("sdk", sdk), ("httpx2", http_only), ("socket", socket_only)):
        print(f"{name:>7}: {cpu_ms_per_request(layer):.2f} ms CPU per request")
    http.close()


if __name__ == "__main__":
    main()
