"""Micro benchmarks behind three figures in bench/README.md, each on its own, no servers.

    .venv/bin/python -m bench.micro

- ``read``: CPU per upstream read under gevent when the reader always has to wait for
  the next message (a ping-pong over a socketpair). gevent's plain ``recv`` (try, get
  EAGAIN, wait, read again) against streamchat.relay.direct_body's wait-then-read.
- ``write``: CPU per 200-byte write of gevent's ``sendall`` (what gunicorn writes each
  chunk with) against a bare ``send`` on the same non-blocking socket.
- ``relay``: CPU per chunk of the app's own relay pipeline (body framing, SSE to
  NDJSON, the chat checks, the request log's count), fed ready-made chunked reads, no
  socket at all.

Each is run three times; read them as a range. Pin it to one core for steadier figures
(``taskset -c 0``).
"""

from gevent import monkey

monkey.patch_all()  # before socket is imported anywhere, as in gunicorn's gevent worker

import itertools  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

from bench.http1 import frame_chunk  # noqa: E402
from streamchat.relay import direct_body, socket_reads  # noqa: E402
from streamchat.relay.body_framing import Chunked  # noqa: E402
from streamchat.relay.ndjson import HEARTBEAT_LINE, relay  # noqa: E402
from streamchat.relay.protocols import ChatProtocol  # noqa: E402
from streamchat.web.requestlog import RequestRecord  # noqa: E402

_MESSAGE = b"x" * 200
_PAYLOAD = (
    b'{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench-model","system_fingerprint":"t123456789012345","choices":[{"index":0,'
    b'"delta":{"content":" token"},"logprobs":null,"finish_reason":null}]}'
)


def read_us(make_recv, messages: int = 30_000) -> float:
    """CPU µs per message read with ``make_recv(sock)``, the writer sending only once
    the reader is waiting again."""
    reading, writing = socket.socketpair()
    recv = make_recv(reading)
    wanted = Event()

    def write() -> None:
        for _ in range(messages):
            wanted.wait()
            wanted.clear()
            writing.send(_MESSAGE)

    writer = gevent.spawn(write)
    started = time.thread_time()
    for _ in range(messages):
        wanted.set()
        assert recv(65536) == _MESSAGE
    spent = time.thread_time() - started
    writer.join()
    reading.close()
    writing.close()
    return spent / messages * 1e6


def write_us(bare: bool, writes: int = 100_000) -> float:
    """CPU µs per 200-byte write, gevent's sendall or a bare send; a greenlet drains."""
    sending, draining = socket.socketpair()
    # Room for far more than the writes between two drains: a bare send must not block.
    sending.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    draining.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)

    def drain() -> None:
        while draining.recv(1 << 20):
            pass

    drainer = gevent.spawn(drain)
    send = sending._sock.send if bare else sending.sendall
    started = time.thread_time()
    for i in range(writes):
        send(_MESSAGE)
        if i % 100 == 0:
            gevent.sleep(0)  # let the drainer empty the buffer: no write ever blocks
    spent = time.thread_time() - started
    sending.close()
    drainer.join()
    draining.close()
    return spent / writes * 1e6


def relay_us(chunks: int = 200_000) -> float:
    """CPU µs per chunk through direct_body's framing, relay() and the view's count."""
    event = b"data: " + _PAYLOAD + b"\n\n"
    # An endless body, cut after ``chunks`` lines: closing the relay then ends it the way
    # a departing client does, with no end-of-body work in the figure.
    read = frame_chunk(event)
    reads = (read for _ in itertools.repeat(None))  # a generator: the reader closes it
    record = RequestRecord("bench", "POST", "/api/chat")
    lines = relay(direct_body._body(None, Chunked(), b"", reads), ChatProtocol())
    started = time.thread_time()
    for piece in itertools.islice(lines, chunks):
        record.sent(piece, piece is HEARTBEAT_LINE)
    spent = time.thread_time() - started
    lines.close()
    assert record.chunks == chunks  # every line was a relayed chunk, none an error line
    return spent / chunks * 1e6


def main() -> None:
    """Print each figure three times."""
    for _ in range(3):
        plain = read_us(lambda sock: sock.recv)
        waiting = read_us(socket_reads.wait_then_recv)
        print(f"read: gevent recv {plain:.1f} us, wait then recv {waiting:.1f} us")
    for _ in range(3):
        print(f"write: gevent sendall {write_us(False):.2f} us, bare send {write_us(True):.2f} us")
    for _ in range(3):
        print(f"relay: {relay_us():.2f} us per chunk")


if __name__ == "__main__":
    main()
