"""The Flask app factory. ``flask run`` finds ``create_app`` here; gunicorn uses wsgi.py.

Wiring only: each part lives in its layer of the streamchat package
(docs/architecture.md says which is where).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from streamchat.budgets import build_budgets, build_text_counts
from streamchat.conversations import ConversationStore
from streamchat.identity import install_identity
from streamchat.metrics.collectors import stream_metrics
from streamchat.runs import Runs
from streamchat.runtime import Runtime, install_runtime
from streamchat.settings import load_settings
from streamchat.state import SharedState, open_shared_state
from streamchat.state.redis_messages import RedisMessages
from streamchat.upstream.client import build_client
from streamchat.upstream.readiness import ReadinessCheck
from streamchat.web.api import api
from streamchat.web.budget import budget
from streamchat.web.conversations_api import conversations_api
from streamchat.web.database import install_database
from streamchat.web.errors import install_error_handlers
from streamchat.web.headers import install_security_headers
from streamchat.web.health import health
from streamchat.web.metrics_endpoint import metrics_endpoint
from streamchat.web.page import page
from streamchat.web.ratelimit import install_rate_limits
from streamchat.web.requestlog import configure_logging, install_request_log
from streamchat.web.runs_api import runs_api
from streamchat.web.signin import install_signin_routes
from streamchat.web.static_files import install_static_files, static_version
from streamchat.worker.body_bytes import BodyBytes
from streamchat.worker.open_streams import OpenStreams
from streamchat.worker.stalled_writes import StalledWrites


def _build_runtime(app: Flask, settings, client) -> tuple[Runtime, SharedState, Engine]:
    """What the app serves with, the shared state its sign-in counts in, and the
    database its sessions and conversations live in."""
    readiness = ReadinessCheck(
        client, settings.demo, settings.ready_timeout_seconds, settings.ready_cache_seconds
    )
    metrics = stream_metrics() if settings.metrics_token else None
    # What the workers count together (budgets, failed sign-ins): the machine's SQLite
    # file, or Redis with REDIS_URL.
    sqlite_path = Path(settings.sqlite_path or Path(app.instance_path) / "streamchat.sqlite3")
    state = open_shared_state(settings.redis_url, sqlite_path)
    budgets = build_budgets(settings, state)
    counts = build_text_counts(settings, Path(app.instance_path) / "tokenizers")
    streams = OpenStreams()
    # The workers sharing one SQLite file are one machine: they reach each other's runs.
    # Other instances' runs through Redis, when one is shared.
    messages = RedisMessages(settings.redis_url) if settings.redis_url else None
    runs = Runs(
        settings, client, streams, budgets, counts, str(sqlite_path.resolve().parent), messages
    )
    writes = StalledWrites(settings.runs.client_write_timeout_seconds)
    body_bytes = BodyBytes(settings.images.max_body_bytes_in_flight)
    # Conversations are kept for signed-in people only: with AUTH=none nobody owns one.
    engine = install_database(app, settings.database)
    conversations = None
    if settings.auth.enabled:
        conversations = ConversationStore(
            engine,
            settings.database.max_conversations_per_user,
            settings.database.max_stored_image_bytes_per_user,
        )
    runtime = Runtime(
        settings,
        client,
        streams,
        runs,
        readiness,
        writes,
        metrics,
        budgets,
        conversations=conversations,
        body_bytes=body_bytes,
    )
    return runtime, state, engine


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
    runtime, state, engine = _build_runtime(
        app, settings, client or build_client(settings, http_client, credential)
    )
    install_runtime(app, runtime)
    install_static_files(app, version)  # before ProxyFix: that one stays outermost
    if settings.trusted_proxy_count:
        # Trust X-Forwarded-* only from the proxies we were told about, so a client
        # cannot pick its own address (and so its own rate-limit bucket).
        # X-Forwarded-Host only when asked: neither Heroku's router nor the nginx block
        # in docs/deploying.md sets it, so trusting it would let a client pick its own Host.
        n = settings.trusted_proxy_count
        x_host = n if settings.trusted_proxy_host else 0
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=x_host)
    configure_logging(settings.log_level)
    install_request_log(app)  # before the rate limiter, so refusals are logged too
    # Who may spend the key, before the rate limit (which keys on them) and any work.
    signin = install_identity(app, settings.auth, state, engine)
    if signin is not None:
        install_signin_routes(app, signin)
    install_rate_limits(app, settings, api, conversations_api)
    app.register_blueprint(page)
    app.register_blueprint(health)
    app.register_blueprint(api)
    app.register_blueprint(budget)
    app.register_blueprint(runs_api)
    if runtime.conversations is not None:
        app.register_blueprint(conversations_api)
    if settings.metrics_token:
        app.register_blueprint(metrics_endpoint)  # no token, no route: a plain 404
    install_error_handlers(app)
    install_security_headers(app)
    return app
