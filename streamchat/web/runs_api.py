"""Resuming and stopping a run (docs/architecture.md, "Wire protocol", Runs):
``GET /api/runs/<id>?after=<n>`` (or ``Last-Event-ID: <n>``) and
``POST /api/runs/<id>/stop``.

Same sign-in and same-origin rules as the chat API, but not its rate limit: a page that
reconnects after a network drop must not spend the allowance its replies need.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..runs import BadResumePoint
from ..runtime import current_runtime
from .api import run_owner
from .origin import check_same_origin
from .streaming import stream_response, wants_sse

runs_api = Blueprint("runs", __name__)
_MAX_DIGITS = 9


@runs_api.before_request
def refuse_cross_site_requests():
    """Browsers may call the API from our own page only."""
    check_same_origin(current_runtime().settings.allowed_origins)


def resume_point() -> int:
    """``after`` from the query, else ``Last-Event-ID``, else 0: lines already read."""
    raw = request.args.get("after")
    if raw is None:
        raw = request.headers.get("Last-Event-ID", "0")
    raw = raw.strip()
    if not raw.isdigit() or not raw.isascii() or len(raw) > _MAX_DIGITS:
        raise BadResumePoint()
    return int(raw)


@runs_api.get("/api/runs/<run_id>")
def resume(run_id: str):
    """The run's lines after the resume point, live until it ends, framed as the
    ``Accept`` header asks (NDJSON by default, SSE on request)."""
    after = resume_point()
    reader = current_runtime().runs.reader(run_id, after, run_owner())
    named = reader.api_name == "responses"
    return stream_response(reader, run_id, after, wants_sse(), named)


@runs_api.post("/api/runs/<run_id>/stop")
def stop(run_id: str):
    """Stop the run: its upstream closes, every reader's body ends after the lines
    produced so far, and what was generated is counted."""
    current_runtime().runs.stop(run_id, run_owner())
    return jsonify({"id": run_id, "stopping": True}), 202
