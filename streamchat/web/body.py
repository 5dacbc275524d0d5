"""Reads a JSON request body whole, under a deadline and a size limit.

gunicorn's gevent worker puts no time limit on reading a request body, so a client that
sends its headers and then trickles (or never sends) the body would hold the request
for as long as it likes. The view reads the body here before it takes a stream place
(docs/architecture.md, "Request lifecycle"): past REQUEST_BODY_TIMEOUT_SECONDS the
answer is 408 and the connection is closed.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading

from flask import request
from werkzeug.wsgi import get_input_stream

from ..errors import ApiError
from ..relay.client_socket import client_socket
from ..relay.socket_reads import is_gevent_socket

_READ_SIZE = 65536


class _BodyTimeout(Exception):
    """The deadline for the request body passed."""


def _too_slow() -> ApiError:
    return ApiError(
        408,
        "The request body took too long to arrive.",
        "invalid_request_error",
        "request_timeout",
    )


def _too_large() -> ApiError:
    return ApiError(
        413, "The request body is too large.", "invalid_request_error", "request_entity_too_large"
    )


def _stop_reading(sock: socket.socket | None) -> None:
    """Shut the read side: the server's next read of this connection (the rest of a
    body that will never come whole) ends at once, and the connection closes after our
    answer (408). gunicorn ignores a Connection header from the app, so this is how."""
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RD)


def _read_all(stream, max_bytes: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        data = stream.read(_READ_SIZE)
        if not data:
            return b"".join(parts)
        size += len(data)
        if size > max_bytes:
            # Whatever the framing (Content-Length or chunked). The server reads and
            # drops the rest before the connection's next request, as for any body the
            # app left unread, so a client that keeps the connection can reuse it.
            raise _too_large()
        parts.append(data)


def _read_within(seconds: float, max_bytes: int) -> bytes:
    environ = request.environ
    sock = client_socket(environ)
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large()
    # No max_content_length here: werkzeug would cut a chunked body off silently at the
    # limit (a 400 for bad JSON instead of a 413); _read_all counts it instead.
    stream = get_input_stream(environ, max_content_length=None)
    if sock is not None and is_gevent_socket(sock):
        import gevent

        try:
            with gevent.Timeout(seconds, _BodyTimeout):
                return _read_all(stream, max_bytes)
        except _BodyTimeout:
            _stop_reading(sock)
            raise _too_slow() from None
    # Threads (flask run): a timer ends a read that is still going by shutting the
    # socket's read side, so the read returns; the flag says why it did.
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _stop_reading(sock)

    timer = threading.Timer(seconds, expire) if sock is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        body = _read_all(stream, max_bytes)
    except Exception:
        if expired.is_set():
            raise _too_slow() from None
        raise
    finally:
        if timer is not None:
            timer.cancel()
    if expired.is_set():
        raise _too_slow()
    return body


def read_json_body(timeout_seconds: float, max_bytes: int) -> object:
    """The request body parsed as JSON, or a 4xx ApiError that says what is wrong: 415
    for another content type, 408 when it does not arrive within ``timeout_seconds``,
    413 over ``max_bytes``, 400 when it is not JSON."""
    if request.mimetype != "application/json":
        raise ApiError(
            415,
            "Send the request as JSON (Content-Type: application/json).",
            "invalid_request_error",
            "unsupported_media_type",
        )
    data = _read_within(timeout_seconds, max_bytes)
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8 and bad JSON; RecursionError absurdly deep nesting.
        raise ApiError(
            400, "The request body is not valid JSON.", "invalid_request_error", "invalid_json"
        ) from None
