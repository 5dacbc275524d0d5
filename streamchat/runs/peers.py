"""Reading and stopping a run that another worker of this machine owns, over a Unix
socket (docs/architecture.md, "Runs across workers").

Each worker that owns runs listens on an abstract Unix socket named by the machine
(the folder of its SQLite file) and its owner part of run ids; a worker asked about
another's run connects there. Nothing crosses between workers while nobody resumes, and
a resume costs one local connection, not a poll of a shared store. A worker that died
is an answer, not a wait: its socket goes with it, so a connect is refused at once
(``RunNotFound``) and an attached reader sees the connection close without the end
message (a ``run_lost`` error line).

One request line of JSON, then the answer's messages (streamchat.runs.answering), one
per line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator

from ..relay.protocols import ChatProtocol, ResponsesProtocol
from .answering import answers, read_status
from .errors import BadResumePoint, RunNotFound, TooManyReaders
from .lines import Delivery
from .registry import RunRegistry

LOG = logging.getLogger("streamchat.runs")
CONNECT_TIMEOUT_SECONDS = 2.0
# A peer that sent nothing (not even a heartbeat) for its heartbeat interval and this
# long has stopped serving: the reader says so rather than waiting on.
SILENCE_GRACE_SECONDS = 5.0


def peer_address(machine: str, owner: str) -> str:
    """The abstract socket of ``owner``'s worker on ``machine``."""
    return f"\0streamchat-runs/{machine}/{owner}"


def machine_name(folder: str) -> str:
    """A short name for the machine's shared folder (where its SQLite file lives)."""
    return hashlib.sha256(folder.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def peers_supported() -> bool:
    """Abstract Unix sockets are Linux's; elsewhere one worker serves its own runs only."""
    return sys.platform.startswith("linux")


class NoSuchPeer(RunNotFound):
    """No worker of this machine answers for that owner: it is elsewhere, or gone."""


class PeerServer:
    """This worker's socket, answering other workers about the runs it owns."""

    def __init__(self, registry: RunRegistry, machine: str, heartbeat_seconds: float) -> None:
        self._registry = registry
        self._machine = machine
        self._heartbeat = heartbeat_seconds
        self._listening_as = ""

    def ensure_listening(self) -> None:
        """Listen, once per worker process (after the fork), before its first run."""
        owner = self._registry.owner
        if self._listening_as == owner or not peers_supported():
            return
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(peer_address(self._machine, owner))
        listener.listen(64)
        self._listening_as = owner
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            connection, _ = listener.accept()
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError, ValueError):
            connection.settimeout(CONNECT_TIMEOUT_SECONDS)
            request = json.loads(_LineSocket(connection).readline() or b"{}")
            connection.settimeout(None)
            messages = answers(self._registry, request, self._heartbeat)
            try:
                for batch in messages:
                    connection.sendall(b"".join(_framed(m) for m in batch))
            finally:
                messages.close()  # a write that failed: the asker left, its reader goes


def _framed(message: bytes) -> bytes:
    return message if message.endswith(b"\n") else message + b"\n"


class _LineSocket:
    """Lines from a socket, with the socket's own timeout on each read."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def readline(self) -> bytes:
        """The next line with its newline; b"" at the end of the stream."""
        while b"\n" not in self._buffer:
            data = self.sock.recv(65536)
            if not data:
                return b""
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"


def _ask(machine: str, owner: str, request: dict) -> tuple[socket.socket, _LineSocket, dict]:
    """Connect to ``owner``'s worker, send ``request``, read its status line."""
    if not peers_supported():
        raise NoSuchPeer()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT_SECONDS)
    try:
        sock.connect(peer_address(machine, owner))
        sock.sendall(json.dumps(request).encode() + b"\n")
        lines = _LineSocket(sock)
        status = read_status(lines.readline())
    except (OSError, ValueError):
        sock.close()
        raise NoSuchPeer() from None  # no such worker here (any more)
    return sock, lines, status


def stop_at_peer(machine: str, owner: str, run_id: str, who: str | None) -> None:
    """Stop a run another worker owns; RunNotFound when it has no such run of ``who``'s."""
    sock, _, status = _ask(machine, owner, {"op": "stop", "run": run_id, "who": who})
    sock.close()
    if status.get("status") != 202:
        raise RunNotFound()


def lost_line(api: str) -> bytes:
    protocol = ResponsesProtocol() if api == "responses" else ChatProtocol()
    return protocol.error_line(
        "run_lost", "The server process making this reply stopped, so the reply ends here."
    )


class PeerReader:
    """A reader of a run another worker owns, through that worker's socket."""

    def __init__(self, machine: str, owner: str, run_id: str, after: int, who: str | None):
        request = {"op": "read", "run": run_id, "after": after, "who": who}
        self._sock, self._lines, status = _ask(machine, owner, request)
        code = status.get("status")
        if code != 200:
            self._sock.close()
            raise {400: BadResumePoint, 429: TooManyReaders}.get(code, RunNotFound)()
        self.api_name = status.get("api", "chat")
        self._finished = False

    def follow(self, after: int, heartbeat_seconds: float) -> Iterator[Delivery | None]:
        """As LocalReader.follow; the owner's heartbeats come through as they are, and a
        peer that goes away (killed, say) ends the body with a ``run_lost`` error line."""
        self._sock.settimeout(heartbeat_seconds + SILENCE_GRACE_SECONDS)
        while True:
            try:
                message = self._lines.readline()
            except OSError:
                message = b""
            if not message:
                yield lost_line(self.api_name)
                return
            tag, rest = message[:1], message[1:]
            if tag == b"L":
                yield rest
            elif tag == b"#":
                yield None
            elif tag == b"E":
                self._finished = bool(json.loads(rest).get("finished"))
                return

    def slow(self) -> None:
        """Its client is slow: nothing to hand over (the owner's reader reads on)."""

    def ends_with_done(self) -> bool:
        """Whether the owner said the run finished the reply."""
        return self._finished

    def close(self) -> None:
        """Let the owner's reader go."""
        with contextlib.suppress(OSError):
            self._sock.close()
