"""``GET /metrics`` for Prometheus, registered only when METRICS_TOKEN is set and answered
only for ``Authorization: Bearer <METRICS_TOKEN>``; anything else is a 404, as if there
were no such route."""

from __future__ import annotations

import hmac
import os

from flask import Blueprint, Response, abort, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from ..metrics.multiprocess import ENV
from ..runtime import current_runtime

metrics_endpoint = Blueprint("metrics", __name__)


def _registry():
    if not os.environ.get(ENV):
        return REGISTRY  # one process (flask run): its own collectors
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


@metrics_endpoint.get("/metrics")
def scrape():
    """Every worker's metrics, in Prometheus's text format."""
    token = current_runtime().settings.metrics_token or ""
    sent = request.headers.get("Authorization", "")
    if not token or not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        abort(404)
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
