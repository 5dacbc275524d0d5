"""A raw socket upstream on 127.0.0.1 that writes scripted bytes, so framing, timing and
how the connection ends are all under the test's control; with a throwaway TLS
certificate, and the SDK client and upstream stream the app would open on it."""

from __future__ import annotations

import os
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import openai
import pytest

from streamchat.relay.source import read_body
from streamchat.relay.write_mark import WriteMark
from streamchat.upstream.streams import UpstreamStream, open_stream
from tests.support.environment import TEST_API_KEY
from tests.support.payloads import UPSTREAM_CHAT_REQUEST

HEADERS_CHUNKED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


def chunk(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class RawServer:
    """Serves scripted raw bytes: each connection gets the next script, one step per
    request on it; a step is a list of writes, a float is a pause, None hangs up."""

    def __init__(self, *scripts: list, tls: ssl.SSLContext | None = None) -> None:
        self.scripts = list(scripts)
        self.tls = tls
        self.connections = 0
        self.requests = 0
        self.peer_closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def base_url(self) -> str:
        """The /v1 URL an SDK client uses to reach this server."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while self.scripts:
            conn, _ = self._listener.accept()
            self.connections += 1
            threading.Thread(
                target=self._answer, args=(conn, self.scripts.pop(0)), daemon=True
            ).start()

    def _read_request(self, conn: socket.socket, buffered: bytes) -> bytes | None:
        while b"\r\n\r\n" not in buffered:
            data = conn.recv(65536)
            if not data:
                return None
            buffered += data
        head, _, rest = buffered.partition(b"\r\n\r\n")
        length = int(
            next(
                (
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                b"0",
            )
        )
        while len(rest) < length:
            rest += conn.recv(65536)
        return rest[length:]

    def _answer(self, conn: socket.socket, steps: list) -> None:
        buffered = b""
        if self.tls:
            conn = self.tls.wrap_socket(conn, server_side=True)
        with conn:
            for step in steps:
                buffered = self._read_request(conn, buffered)
                if buffered is None:
                    return
                self.requests += 1
                for write in step:
                    if write is None:
                        return
                    if isinstance(write, float) and self.tls:
                        time.sleep(write)
                        continue
                    if isinstance(write, float):
                        # A pause that notices the client hanging up meanwhile.
                        readable, _, _ = select.select([conn], [], [], write)
                        if readable and not conn.recv(65536, socket.MSG_PEEK):
                            self.peer_closed.set()
                            return
                        continue
                    try:
                        conn.sendall(write)
                    except OSError:
                        self.peer_closed.set()
                        return
            conn.settimeout(5)
            try:
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            self.peer_closed.set()


def make_tls(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway certificate for 127.0.0.1: (server context, client context trusting it).
    openssl comes with Debian's ca-certificates, which the SDK's TLS needs anyway."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("openssl is needed for the TLS tests")
        pytest.skip("openssl not installed")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


def client_for(server: RawServer, **options) -> openai.OpenAI:
    """An SDK client on ``server`` with the test key and no retries; ``options`` win."""
    options = {"max_retries": 0, **options}
    return openai.OpenAI(api_key=TEST_API_KEY, base_url=server.base_url, **options)


class SeamReading:
    """An open upstream stream read through the per-chunk path's seam, as a run reads
    it: ``body()`` gives its raw bytes (None at each heartbeat), ``direct`` says which
    reader served them."""

    def __init__(self, upstream: UpstreamStream) -> None:
        self.upstream = upstream
        self._response = upstream.response
        self.direct: bool | None = None

    def body(self, heartbeat_seconds: float, read_timeout_seconds: float):
        source, self.direct = read_body(
            self._response, heartbeat_seconds, read_timeout_seconds, WriteMark()
        )
        return source

    def close(self) -> None:
        self.upstream.close()


def open_test_stream(client: openai.OpenAI) -> SeamReading:
    """The upstream stream the app would open for a chat request, on ``client``, ready
    to be read through the seam."""
    return SeamReading(open_stream(client, "/chat/completions", UPSTREAM_CHAT_REQUEST))
