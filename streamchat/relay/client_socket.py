"""Tells whether the browser has gone away, without writing to it.

A write to a closed connection only fails on the second try, so waiting for a failed
heartbeat write lets a departed client hold the upstream open for two heartbeats.
Peeking for the client's FIN at each heartbeat makes it one.
"""

from __future__ import annotations

import select
import socket


def client_socket(environ: dict) -> socket.socket | None:
    """The connection's socket, where the server exposes it (gunicorn, Werkzeug)."""
    return environ.get("gunicorn.socket") or environ.get("werkzeug.socket")


def has_left(sock: socket.socket | None) -> bool:
    """True when the client has closed its side of the connection."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        # Readable with nothing to read means end of stream: the client closed.
        return sock.recv(1, socket.MSG_PEEK) == b""
    except ConnectionError:
        return True
    except (OSError, ValueError):
        return False  # cannot tell (e.g. a TLS socket); the next write will
