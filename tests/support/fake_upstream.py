"""A scriptable OpenAI-compatible upstream on 127.0.0.1 for integration tests.

Each request to ``/v1/chat/completions`` is answered by the current ``Script``: a status,
then SSE events written one by one with pauses, as chunked HTTP (the payloads come from
tests.support.payloads). It records every request and when each streamed connection was
closed by the peer, so tests can check that the app stops the upstream when its client
leaves.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Script:
    """How the fake upstream answers the next requests."""

    payloads: list[bytes] = field(default_factory=list)  # SSE data payloads, in order
    interval: float = 0.0  # pause before each event
    first_delay: float = 0.0  # pause before the first event (after the headers)
    pauses: dict[int, float] = field(default_factory=dict)  # extra pause before event i
    status: int = 200
    error_body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    send_done: bool = True
    header_delay: float = 0.0  # silence before the status line
    drop_before_headers: bool = False  # read the request, then hang up without a word
    reset_after: int | None = None  # abort the connection (RST) after this many events
    split_every: int = 0  # write each event in pieces of this many bytes...
    split_pause: float = 0.0  # ...with this pause between pieces
    event_names: dict[int, str] = field(default_factory=dict)  # SSE "event:" for event i
    # The one output-cap field this upstream reads ("max_tokens" as llama-cpp-python's
    # server, say): with a value N in the request, content chunks past the Nth are not
    # sent and the usage chunk reports N. Any other cap field is ignored, as a real
    # server ignores a field its request model lacks.
    honours: str | None = None
    # When set, the usage chunk's prompt_tokens is what this says of the request (a real
    # tokenizer's count, say), as an upstream counts the input it was sent.
    count_prompt: Callable[[dict], int] | None = None


@dataclass
class StreamRecord:
    """What happened on one streamed request."""

    request: dict
    started: float
    finished: float | None = None  # wrote the whole script
    peer_closed: float | None = None  # saw the app close the connection
    events_sent: int = 0


class FakeUpstream:
    """Start with ``with FakeUpstream() as fake:``; ``fake.base_url`` is its /v1 URL."""

    def __init__(self) -> None:
        self.script = Script()
        self.scripts: dict[str, Script] = {}  # by requested model; else ``script``
        self.live_connections = 0
        self.records: list[StreamRecord] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                fake._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 512

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def open_streams(self) -> int:
        """Streams that neither finished nor saw their peer leave."""
        with self._lock:
            return sum(1 for r in self.records if r.finished is None and r.peer_closed is None)

    # --- serving -------------------------------------------------------------------
    def _serve(self, sock: socket.socket) -> None:
        with self._lock:
            self.live_connections += 1
        try:
            # The app dropping a kept-alive connection is normal, not an error.
            with contextlib.suppress(OSError):
                self._serve_requests(sock)
        finally:
            with self._lock:
                self.live_connections -= 1

    def _serve_requests(self, sock: socket.socket) -> None:
        reader = sock.makefile("rb")
        while True:
            request_line = reader.readline()
            if not request_line:
                return
            headers = {}
            while True:
                line = reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers.get("content-length", "0") or 0))
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = {}
            request["_headers"] = headers
            request["_path"] = request_line.split()[1].decode()
            if not self._answer(sock, request):
                return

    def _answer(self, sock: socket.socket, request: dict) -> bool:
        script = self.scripts.get(request.get("model"), self.script)
        if script.header_delay and self._wait_for_peer_close(sock, script.header_delay):
            return False
        if script.drop_before_headers:
            sock.close()
            return False
        if script.status != 200:
            extra = "".join(f"{k}: {v}\r\n" for k, v in script.headers.items())
            head = (
                f"HTTP/1.1 {script.status} Error\r\nContent-Type: application/json\r\n{extra}"
                f"Content-Length: {len(script.error_body)}\r\n\r\n"
            )
            sock.sendall(head.encode() + script.error_body)
            with self._lock:
                self.records.append(StreamRecord(request, time.monotonic(), time.monotonic()))
            return True
        record = StreamRecord(request, time.monotonic())
        with self._lock:
            self.records.append(record)
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in script.headers.items())
        head += "Transfer-Encoding: chunked\r\n\r\n"
        try:
            sock.sendall(head.encode())
            events = [
                (f"event: {script.event_names[i]}\n".encode() if i in script.event_names else b"")
                + b"data: "
                + p
                + b"\n\n"
                for i, p in enumerate(_capped(script, request))
            ]
            if script.send_done:
                events.append(b"data: [DONE]\n\n")
            for index, event in enumerate(events):
                if index == script.reset_after:
                    # SO_LINGER 0: close() sends RST, as a crashed upstream would.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()
                    record.finished = time.monotonic()
                    return False
                pause = script.interval + script.pauses.get(index, 0.0)
                if index == 0:
                    pause += script.first_delay
                if self._wait_for_peer_close(sock, pause):
                    record.peer_closed = time.monotonic()
                    return False
                self._send_chunk(sock, event, script)
                record.events_sent += 1
            sock.sendall(b"0\r\n\r\n")
            record.finished = time.monotonic()
        except OSError:
            record.peer_closed = time.monotonic()
            return False
        # Keep-alive: the app's HTTP client may reuse this connection.
        return True

    @staticmethod
    def _send_chunk(sock: socket.socket, event: bytes, script: Script) -> None:
        data = b"%x\r\n%s\r\n" % (len(event), event)
        if not script.split_every:
            sock.sendall(data)
            return
        for start in range(0, len(data), script.split_every):
            sock.sendall(data[start : start + script.split_every])
            time.sleep(script.split_pause)

    @staticmethod
    def _wait_for_peer_close(sock: socket.socket, seconds: float) -> bool:
        """Sleep ``seconds``, but return True at once if the peer closes meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([sock], [], [], max(0.0, left))
            if readable:
                try:
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except OSError:
                    return True
                # Pipelined bytes while we stream: not something the SDK does.
                time.sleep(min(0.01, max(0.0, left)))
            if left <= 0:
                return False


def _capped(script: Script, request: dict) -> list[bytes]:
    """The script's payloads, cut at the cap in the field it honours (``Script.honours``)."""
    cap = request.get(script.honours) if script.honours else None
    if not isinstance(cap, int):
        cap = None
        if script.count_prompt is None:
            return script.payloads
    kept, contents = [], 0
    for payload in script.payloads:
        chunk = json.loads(payload)
        choices = chunk.get("choices") or [{}]
        if choices[0].get("delta", {}).get("content"):
            contents += 1
            if cap is not None and contents > cap:
                continue
        usage = chunk.get("usage")
        if usage and cap is not None and usage.get("completion_tokens", 0) > cap:
            usage["completion_tokens"] = cap
        if usage and script.count_prompt is not None:
            usage["prompt_tokens"] = script.count_prompt(request)
        if usage:
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            payload = json.dumps(chunk, separators=(",", ":")).encode()
        kept.append(payload)
    return kept
