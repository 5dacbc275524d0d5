"""Runs streamchat.relay.direct_body's gevent reader in a process patched the way gunicorn's
gevent worker patches itself, and prints what it saw as one JSON line.

Run by tests/server/test_direct_body.py as a script (a separate process, since patching is for
good); not a module to import.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import httpx2  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from streamchat.relay.pipeline import RelayLimits  # noqa: E402
from streamchat.relay.protocols import ChatProtocol  # noqa: E402
from streamchat.relay.socket_reads import wait_then_recv  # noqa: E402
from streamchat.runs import LocalReader, Run, split_lines  # noqa: E402
from streamchat.runs.run import RunParts  # noqa: E402
from streamchat.settings.runs import RunSettings  # noqa: E402
from streamchat.worker.open_streams import OpenStreams  # noqa: E402
from tests.support.payloads import numbered_chunk, sse_body  # noqa: E402
from tests.support.raw_server import (  # noqa: E402
    HEADERS_CHUNKED,
    RawServer,
    chunk,
    client_for,
    make_tls,
    open_test_stream,
)


class _CountingSocket:
    """Stands in for a gevent socket's inner socket and counts its recv calls."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0

    def recv(self, *args):
        self.calls += 1
        return self.inner.recv(*args)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def tries_per_read() -> float:
    """Socket recv calls per message when messages come 20 ms apart: 1.0 when the
    reader waits for readability first, 2.0 when every read first gets EAGAIN."""
    reading, writing = socket.socketpair()
    counting = _CountingSocket(reading._sock)
    reading._sock = counting
    recv = wait_then_recv(reading)

    def write() -> None:
        for _ in range(5):
            gevent.sleep(0.02)
            writing.sendall(b"x" * 100)

    writer = gevent.spawn(write)
    for _ in range(5):
        assert recv(65536) == b"x" * 100
    writer.join()
    reading._sock = counting.inner
    reading.close()
    writing.close()
    return counting.calls / 5


def main() -> None:
    """Read scripted bodies the ways a gevent worker does and print what was seen."""
    results: dict = {}
    events = sse_body([numbered_chunk(0), numbered_chunk(1, finish=True)])
    first = sse_body([numbered_chunk(0)], done=False)
    server = RawServer(
        [[HEADERS_CHUNKED, 0.05, chunk(events[:25]), 0.05, chunk(events[25:]), b"0\r\n\r\n"]],
        [[HEADERS_CHUNKED + chunk(first), 5.0]],
        [[HEADERS_CHUNKED + chunk(first), 30.0]],
    )
    # One client per connection: the first body is read to its end, and a shared client
    # would send the next request on that same (reused) connection.
    clients = [client_for(server) for _ in range(3)]

    stream = open_test_stream(clients[0])
    pieces = list(stream.body(5.0, 10.0))
    results["direct"] = stream.direct
    results["body_ok"] = b"".join(pieces) == events and None not in pieces
    stream.close()

    results["tries_per_read"] = tries_per_read()

    stream = open_test_stream(clients[1])
    started = time.monotonic()
    beats = []
    try:
        for piece in stream.body(0.2, 0.7):
            if piece is None:
                beats.append(round(time.monotonic() - started, 3))
    except Exception as exc:
        results["timeout_error"] = type(exc).__name__
    results["timeout_at"] = round(time.monotonic() - started, 3)
    results["beats"] = beats
    stream.close()

    # A run ended for shutdown from another greenlet: its blocked read fails at once,
    # and the run's last line says why.
    parts = RunParts(OpenStreams(), None, RelayLimits(10.0, 60.0, 1 << 20), RunSettings())
    upstream = open_test_stream(clients[2]).upstream
    run = Run("run-1", None, "chat", upstream, ChatProtocol(), parts, None, 0)
    run.attach()
    run.start()

    def read() -> None:
        pieces = [
            line
            for item in LocalReader(run, attached=True, drives=True).follow(0, 10.0)
            if item
            for line in split_lines(item)
        ]
        results["shutdown_error"] = run.result.error_code
        results["shutdown_last_line"] = pieces[-1].decode()
        results["shutdown_after"] = round(time.monotonic() - ended_at, 3)

    reader = gevent.spawn(read)
    gevent.sleep(0.3)
    ended_at = time.monotonic()
    run.end_for_shutdown()
    reader.join(timeout=15)

    # TLS: gevent's SSLSocket under the same reader, heartbeats included.
    if shutil.which("openssl") is None:
        results["tls_direct"] = "no openssl"
        print(json.dumps(results))
        return
    with tempfile.TemporaryDirectory() as folder:
        server_tls, client_tls = make_tls(Path(folder))
        tls_server = RawServer(
            [[HEADERS_CHUNKED, 0.05, chunk(events[:30]), 0.5, chunk(events[30:]), b"0\r\n\r\n"]],
            tls=server_tls,
        )
        http = httpx2.Client(verify=client_tls)
        tls_client = client_for(tls_server, http_client=http)
        stream = open_test_stream(tls_client)
        pieces = list(stream.body(0.2, 5.0))
        results["tls_direct"] = stream.direct
        results["tls_body_ok"] = b"".join(p for p in pieces if p) == events
        results["tls_beats"] = pieces.count(None)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
