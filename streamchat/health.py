"""Health checks for load balancers and platforms: alive, and ready to serve."""

from __future__ import annotations

import threading
import time

import openai
from flask import Blueprint, current_app, jsonify

health = Blueprint("health", __name__)


class ReadinessCheck:
    """Asks the upstream whether it answers, at most once per ``ttl`` seconds."""

    def __init__(self, client: openai.OpenAI, demo: bool, timeout: float, ttl: float) -> None:
        self._client = client
        self._demo = demo
        self._timeout = timeout
        self._ttl = ttl
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._reason: str | None = None

    def reason_not_ready(self) -> str | None:
        """None when the upstream answers; else a short reason code (cached)."""
        if self._demo:
            return None  # the demo model is in-process: nothing to reach
        with self._lock:  # one check at a time; others wait and share its answer
            if time.monotonic() - self._checked_at >= self._ttl:
                self._reason = self._ask_upstream()
                self._checked_at = time.monotonic()
            return self._reason

    def _ask_upstream(self) -> str | None:
        client = self._client.with_options(timeout=self._timeout, max_retries=0)
        try:
            # The raw response: any answer proves the upstream is there, and we need
            # not parse a model list that some compatible servers shape differently.
            client.models.with_raw_response.list()
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            return "upstream_auth"
        except openai.APIStatusError:
            return None  # it answered (e.g. 404: no /models on this server)
        except openai.APIError:
            return "upstream_unreachable"
        return None


@health.get("/healthz")
def healthz():
    """The process is alive and serving requests."""
    return jsonify(status="ok")


@health.get("/readyz")
def readyz():
    """Ready for traffic: config valid (or we would not be running), not shutting down,
    and the upstream answers."""
    runtime = current_app.extensions["streamchat"]
    if runtime.streams.draining:
        return jsonify(status="not_ready", reason="shutting_down"), 503
    reason = runtime.readiness.reason_not_ready()
    if reason:
        return jsonify(status="not_ready", reason=reason), 503
    return jsonify(status="ready")
