"""Health checks for load balancers and platforms: alive, and ready to serve."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..runtime import current_runtime

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    """The process is alive and serving requests."""
    return jsonify(status="ok")


@health.get("/readyz")
def readyz():
    """Ready for traffic: config valid (or we would not be running), not shutting down,
    and the upstream answers; with conversations on, whether the database answers."""
    runtime = current_runtime()
    if runtime.streams.draining:
        return jsonify(status="not_ready", reason="shutting_down"), 503
    reason = runtime.readiness.reason_not_ready()
    if reason:
        return jsonify(status="not_ready", reason=reason), 503
    if runtime.conversations is None:
        return jsonify(status="ready")
    # Said, not failed on: replies still stream without it (the page keeps the
    # conversation meanwhile), and every instance shares it, so taking them all out of
    # rotation would stop the replies too.
    database = "ok" if runtime.conversations.reachable() else "unreachable"
    return jsonify(status="ready", database=database)
