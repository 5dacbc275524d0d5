"""One JSON log line per request, to stdout: what happened, how fast, how much.

Never message content, never the key. Streams are logged when they end, with their
outcome; everything else when the response is made.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from dataclasses import dataclass, field

from flask import Flask, g, request
from pythonjsonlogger.json import JsonFormatter

from ..identity import current_identity

ACCESS = logging.getLogger("streamchat.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_POLLED_ROUTES = {"/healthz", "/readyz", "/metrics"}


def configure_logging(level: str) -> None:
    """Send the ``streamchat`` loggers to stdout as JSON lines at ``level``."""
    logger = logging.getLogger("streamchat")
    if not any(getattr(h, "streamchat_json", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(
            JsonFormatter(
                "{asctime}{levelname}{name}{process}{message}",
                style="{",
                rename_fields={
                    "asctime": "time",
                    "levelname": "level",
                    "name": "logger",
                    "process": "pid",  # which worker: several write to one stdout
                },
            )
        )
        handler.streamchat_json = True
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def request_id_from(header: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new one."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@dataclass
class RequestRecord:
    """What the log line says about one request; filled in as the request goes."""

    request_id: str
    method: str
    route: str
    started: float = field(default_factory=time.perf_counter)
    status: int | None = None
    outcome: str | None = None
    model: str | None = None
    error_code: str | None = None
    first_data: float | None = None
    chunks: int = 0
    bytes: int = 0
    usage: dict | None = None
    upstream_read: str | None = None  # "direct" or "fallback": see streamchat.relay.source
    user: str | None = None  # the user's or token's name; never a token or password
    tokens_counted: int | None = None  # what the stream counted against budgets
    tokens_source: str | None = None  # "reported" by the upstream, or "estimated"
    logged: bool = False

    def sent(self, piece: bytes, heartbeat: bool) -> None:
        """Count one write of a stream (a heartbeat is not data)."""
        if not heartbeat:
            if self.first_data is None:
                self.first_data = time.perf_counter()
            self.chunks += piece.count(b"\n")
        self.bytes += len(piece)

    def ttfb(self) -> float | None:
        """Seconds from the request to its first data line, if one was sent."""
        return None if self.first_data is None else self.first_data - self.started

    def age(self) -> float:
        """Seconds since the request started."""
        return time.perf_counter() - self.started

    def log(self) -> None:
        """Write the line, once."""
        if self.logged:
            return
        self.logged = True
        fields = {
            "request_id": self.request_id,
            "method": self.method,
            "route": self.route,
            "status": self.status,
            "outcome": self.outcome,
            "model": self.model,
            "user": self.user,
            "duration_ms": round((time.perf_counter() - self.started) * 1000, 1),
        }
        if self.first_data is not None:
            fields["ttfb_ms"] = round((self.first_data - self.started) * 1000, 1)
            fields["chunks"] = self.chunks
            fields["bytes"] = self.bytes
        if self.error_code:
            fields["error_code"] = self.error_code
        if self.usage:
            fields["usage"] = self.usage
        if self.upstream_read:
            fields["upstream_read"] = self.upstream_read
        if self.tokens_counted is not None:
            fields["tokens_counted"] = self.tokens_counted
            fields["tokens_source"] = self.tokens_source
        # Load balancers and Prometheus poll these every few seconds: kept out of INFO.
        level = logging.DEBUG if self.route in _POLLED_ROUTES else logging.INFO
        ACCESS.log(level, "request", extra=fields)


def current_record() -> RequestRecord:
    """This request's record (made in ``before_request``)."""
    return g.request_record


def install_request_log(app: Flask) -> None:
    """Give every request an id (echoed as ``X-Request-ID``) and a log line."""

    @app.before_request
    def open_record():
        rule = request.url_rule.rule if request.url_rule else request.path
        g.request_record = RequestRecord(
            request_id_from(request.headers.get("X-Request-ID")), request.method, rule
        )

    @app.after_request
    def close_record(response):
        record = g.get("request_record")
        if record is None:  # the request failed before before_request ran
            record = RequestRecord(request_id_from(None), request.method, request.path)
        response.headers["X-Request-ID"] = record.request_id
        identity = current_identity()
        record.user = identity.name if identity else None
        record.status = response.status_code
        if not getattr(response, "logs_when_done", False):
            record.outcome = "rejected" if response.status_code >= 400 else "completed"
            record.log()
        return response
