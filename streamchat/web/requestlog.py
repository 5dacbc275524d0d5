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
from ..runs import Run, RunResult

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
    """What the log line says about one request: filled in as the request goes, and for
    a stream from its run's result when the run ends."""

    request_id: str
    method: str
    route: str
    started: float = field(default_factory=time.perf_counter)
    status: int | None = None
    model: str | None = None
    error_code: str | None = None
    user: str | None = None  # the user's or token's name; never a token or password
    waits_for_run: bool = False  # a stream: logged when its run ends, not with the response
    logged: bool = False

    @property
    def outcome(self) -> str:
        """What the line says of a request answered at once: rejected or completed."""
        return "rejected" if (self.status or 0) >= 400 else "completed"

    def log_when_ended(self, run: Run) -> None:
        """Write this request's line when ``run`` ends, with what the run reports. Who
        asked and the status are noted now: the run may end before the response is made."""
        self.waits_for_run = True
        identity = current_identity()
        self.user = identity.name if identity else None
        self.status = 200
        run.when_ended(self.log_run)

    def log_run(self, result: RunResult) -> None:
        """Write the line of a stream whose run has ended."""
        fields = {"outcome": result.outcome, "run_id": result.run_id}
        if result.first_line_at is not None:
            fields["ttfb_ms"] = round((result.first_line_at - self.started) * 1000, 1)
            fields["chunks"] = result.lines
            fields["bytes"] = result.bytes
        if result.error_code:
            fields["error_code"] = result.error_code
        if result.usage:
            fields["usage"] = result.usage
        if result.upstream_read:
            fields["upstream_read"] = result.upstream_read
        fields["tokens_counted"] = result.tokens_counted
        fields["tokens_source"] = result.tokens_source
        self.log(fields)

    def log(self, extra: dict | None = None) -> None:
        """Write the line, once; ``extra`` fields (a stream's) beside the request's own."""
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
        if self.error_code:
            fields["error_code"] = self.error_code
        fields.update(extra or {})
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
        if not record.waits_for_run:
            record.log()
        return response
