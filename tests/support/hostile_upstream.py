"""An upstream that attacks the app, on 127.0.0.1: what a compromised or buggy model server
(or anyone on the path to an ``http://`` base URL) could send.

The model a request names picks the attack (``ATTACKS``). Each answers with a normal
status line and one ordinary first event, so the stream has started, then misbehaves.
Every loop here is bounded in bytes and time and stops when the app hangs up; the
server records when each connection was closed by the app.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import zlib
from dataclasses import dataclass

# What an upstream's own error text could carry: it must never reach the client.
LEAK = "sk-hostile-LEAK-0123"
SECRET_MESSAGE = f"Incorrect API key provided: {LEAK}"

FIRST_CHAT_EVENT = b'data: {"id":"chatcmpl-hostile","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}\n\n'  # noqa: E501
FIRST_RESPONSES_EVENT = (
    b'data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_h"}}\n\n'
)

MAX_BYTES = 64 << 20  # what any attack sends at most
MAX_SECONDS = 60.0  # how long any attack lasts at most
_PIECE = 64 << 10


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _head(extra: str = "", chunked: bool = True) -> bytes:
    framing = "transfer-encoding: chunked\r\n" if chunked else ""
    return f"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n{framing}{extra}\r\n".encode()


@dataclass
class Connection:
    """One request the hostile upstream answered."""

    attack: str
    started: float
    bytes_sent: int = 0
    closed_by_app: float | None = None  # when a write failed: the app hung up


class HostileUpstream:
    """``with HostileUpstream() as hostile:``; ``hostile.base_url`` is its /v1 URL."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()

    @property
    def base_url(self) -> str:
        """The /v1 URL an SDK client uses to reach this server."""
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> HostileUpstream:
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            attack = _read_request_model(conn)
            record = Connection(attack, time.monotonic())
            self.connections.append(record)
            writes = ATTACKS.get(attack, _unknown)()
            deadline = time.monotonic() + MAX_SECONDS
            try:
                for write in writes:
                    if isinstance(write, float):
                        time.sleep(write)
                    else:
                        conn.sendall(write)
                        record.bytes_sent += len(write)
                    if record.bytes_sent > MAX_BYTES or time.monotonic() > deadline:
                        return
                    if self._stop.is_set():
                        return
            except OSError:
                record.closed_by_app = time.monotonic()


def _read_request_model(conn: socket.socket) -> str:
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return ""
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    conn.settimeout(None)
    with contextlib.suppress(ValueError):
        return str(json.loads(body).get("model", ""))
    return ""


def _endless_line():
    """One SSE line that never ends: a ``data:`` field growing by 64 KiB a write."""
    yield _head() + _chunk(FIRST_CHAT_EVENT)
    yield _chunk(b'data: {"choices":[{"delta":{"content":"')
    while True:
        yield _chunk(b"x" * _PIECE)


def _event_without_end():
    """``data:`` lines, each complete, but never the blank line that ends the event."""
    yield _head() + _chunk(FIRST_CHAT_EVENT)
    line = b'data: {"choices":[{"delta":{"content":"' + b"y" * 200 + b'"}}]}\n'
    while True:
        yield _chunk(line * (_PIECE // len(line)))


def _gzip_bomb():
    """A gzip body a few hundred KB long that inflates to ~200 MB of SSE."""
    event = FIRST_CHAT_EVENT * 2000
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    body = b"".join(packer.compress(event) for _ in range((200 << 20) // len(event)))
    body += packer.flush()
    yield _head(f"content-encoding: gzip\r\ncontent-length: {len(body)}\r\n", chunked=False)
    yield body


def _comments_forever():
    """Keep-alive comments (and event/id lines) every 50 ms: bytes, but nothing to relay."""
    yield _head() + _chunk(FIRST_CHAT_EVENT)
    while True:
        yield 0.05
        yield _chunk(b": keepalive\nid: 7\nevent: ping\n")


def _escaped_error():
    """An error whose key is written with a \\u escape, so its bytes never say "error"."""
    yield _head() + _chunk(FIRST_CHAT_EVENT)
    payload = {"\u0065rror": {"message": SECRET_MESSAGE, "code": "invalid_api_key"}}
    text = json.dumps(payload).replace("error", "\\u0065rror", 1)
    yield _chunk(b"data: " + text.encode() + b"\n\n") + b"0\r\n\r\n"


def _late_responses_type():
    """A Responses error event whose ``type`` comes after 200 bytes, without an event line."""
    yield _head() + _chunk(FIRST_RESPONSES_EVENT)
    payload = {"pad": "p" * 200, "type": "error", "message": SECRET_MESSAGE, "code": "x"}
    yield _chunk(b"data: " + json.dumps(payload).encode() + b"\n\n") + b"0\r\n\r\n"


def _unknown():
    yield b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


ATTACKS = {
    "endless-line": _endless_line,
    "event-without-end": _event_without_end,
    "gzip-bomb": _gzip_bomb,
    "comments-forever": _comments_forever,
    "escaped-error": _escaped_error,
    "late-responses-type": _late_responses_type,
}
