"""The Flask app factory. ``flask run`` finds ``create_app`` here; gunicorn uses wsgi.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openai
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from streamchat.handlers import install_error_handlers
from streamchat.health import ReadinessCheck, health
from streamchat.ratelimit import install_rate_limits
from streamchat.requestlog import configure_logging, install_request_log
from streamchat.security import install_security_headers
from streamchat.settings import Settings, load_settings
from streamchat.streams import OpenStreams
from streamchat.upstream import build_client
from streamchat.views import api, page


@dataclass(frozen=True)
class Runtime:
    """What the views need, built once per app: settings, the upstream client, this
    worker's open streams and the readiness check."""

    settings: Settings
    client: openai.OpenAI
    streams: OpenStreams
    readiness: ReadinessCheck


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides environment settings by name, and may carry
    ``OPENAI_CLIENT`` (a ready client) or ``OPENAI_HTTP_CLIENT`` (an httpx2.Client for
    the SDK, e.g. with a MockTransport in tests)."""
    config = dict(config or {})
    client = config.pop("OPENAI_CLIENT", None)
    http_client = config.pop("OPENAI_HTTP_CLIENT", None)
    settings = load_settings(config)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.config["TESTING"] = bool(config.get("TESTING", False))
    client = client or build_client(settings, http_client)
    readiness = ReadinessCheck(
        client, settings.demo, settings.ready_timeout_seconds, settings.ready_cache_seconds
    )
    app.extensions["streamchat"] = Runtime(settings, client, OpenStreams(), readiness)
    if settings.trusted_proxy_count:
        # Trust X-Forwarded-* only from the proxies we were told about, so a client
        # cannot pick its own address (and so its own rate-limit bucket).
        n = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    configure_logging(settings.log_level)
    install_request_log(app)  # before the rate limiter, so refusals are logged too
    install_rate_limits(app, settings, api)
    app.register_blueprint(page)
    app.register_blueprint(health)
    app.register_blueprint(api)
    install_error_handlers(app)
    install_security_headers(app)
    return app
