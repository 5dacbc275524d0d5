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
    and the upstream answers."""
    runtime = current_runtime()
    if runtime.streams.draining:
        return jsonify(status="not_ready", reason="shutting_down"), 503
    reason = runtime.readiness.reason_not_ready()
    if reason:
        return jsonify(status="not_ready", reason=reason), 503
    return jsonify(status="ready")
