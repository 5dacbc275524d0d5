"""The Flask app factory. ``flask run`` finds ``create_app`` here; gunicorn uses wsgi.py.

Wiring only: each part lives in its layer of the streamchat package
(docs/architecture.md says which is where).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from streamchat.budgets import build_budgets
from streamchat.identity import install_identity
from streamchat.machine_db import MachineDatabase
from streamchat.metrics.collectors import stream_metrics
from streamchat.metrics.endpoint import metrics
from streamchat.runtime import Runtime, install_runtime
from streamchat.settings import load_settings
from streamchat.upstream.client import build_client
from streamchat.upstream.readiness import ReadinessCheck
from streamchat.web.api import api
from streamchat.web.budget import budget
from streamchat.web.errors import install_error_handlers
from streamchat.web.headers import install_security_headers
from streamchat.web.health import health
from streamchat.web.origin import check_same_origin
from streamchat.web.page import page
from streamchat.web.ratelimit import client_address, install_rate_limits
from streamchat.web.requestlog import configure_logging, install_request_log
from streamchat.web.static_files import install_static_files, static_version
from streamchat.worker.admission import OpenStreams


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides environment settings by name, and may carry
    ``OPENAI_CLIENT`` (a ready client), ``OPENAI_HTTP_CLIENT`` (an httpx2.Client for
    the SDK, e.g. with a MockTransport in tests) or ``AZURE_CREDENTIAL`` (an
    azure-identity credential in place of DefaultAzureCredential, e.g. a fake one)."""
    config = dict(config or {})
    client = config.pop("OPENAI_CLIENT", None)
    http_client = config.pop("OPENAI_HTTP_CLIENT", None)
    credential = config.pop("AZURE_CREDENTIAL", None)
    settings = load_settings(config)

    # Static URLs carry a digest of static/ (/static/<version>/...), so they can be cached
    # for a year; url_for('static', ...) gives them.
    version = static_version()
    app = Flask(__name__, static_url_path=f"/static/{version}")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    if settings.allowed_hosts:
        # A request for any other Host gets 400 before any work (DNS rebinding).
        app.config["TRUSTED_HOSTS"] = list(settings.allowed_hosts)
    app.config["TESTING"] = bool(config.get("TESTING", False))
    client = client or build_client(settings, http_client, credential)
    readiness = ReadinessCheck(
        client, settings.demo, settings.ready_timeout_seconds, settings.ready_cache_seconds
    )
    counted = stream_metrics() if settings.metrics_token else None
    # Counts the workers of this machine share (budgets, failed sign-ins) without Redis.
    database = MachineDatabase(
        Path(settings.sqlite_path or Path(app.instance_path) / "streamchat.sqlite3")
    )
    budgets = build_budgets(settings, database)
    install_runtime(app, Runtime(settings, client, OpenStreams(), readiness, counted, budgets))
    install_static_files(app, version)  # before ProxyFix: that one stays outermost
    if settings.trusted_proxy_count:
        # Trust X-Forwarded-* only from the proxies we were told about, so a client
        # cannot pick its own address (and so its own rate-limit bucket).
        # X-Forwarded-Host only when asked: neither Heroku's router nor the README's
        # nginx block sets it, so trusting it would let a client pick its own Host.
        n = settings.trusted_proxy_count
        x_host = n if settings.trusted_proxy_host else 0
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=x_host)
    configure_logging(settings.log_level)
    install_request_log(app)  # before the rate limiter, so refusals are logged too
    # Who may spend the key, before the rate limit (which keys on them) and any work.
    install_identity(
        app,
        settings.auth,
        settings.ratelimit_storage_uri,
        database,
        same_origin=lambda: check_same_origin(settings.allowed_origins),
        client_address=client_address,
    )
    install_rate_limits(app, settings, api)
    app.register_blueprint(page)
    app.register_blueprint(health)
    app.register_blueprint(api)
    app.register_blueprint(budget)
    if settings.metrics_token:
        app.register_blueprint(metrics)  # no token, no route: a plain 404
    install_error_handlers(app)
    install_security_headers(app)
    return app
