"""The numbers gunicorn.conf.py needs, parsed like every other setting.

gunicorn reads its config file in the master before any worker imports the app, so
these are checked there: a malformed value stops start-up with the same one-line
configuration error (and exit code 3) that wsgi.py gives for the app's own settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .app_settings import DEFAULT_MAX_STREAMS_PER_WORKER
from .values import choice, integer, text

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class ServerSettings:
    """What gunicorn.conf.py hands to gunicorn (docs/configuration.md)."""

    host: str
    port: int
    workers: int
    worker_connections: int
    graceful_timeout: int
    forwarded_allow_ips: str
    access_log: str | None
    log_level: str
    metrics_dir: str | None

    @property
    def bind(self) -> str:
        """gunicorn's ``bind``: ``host:port``, with brackets around an IPv6 host."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def load_server_settings(overrides: Mapping[str, Any] | None = None) -> ServerSettings:
    """ServerSettings from the environment (``overrides`` win); SettingsError if malformed."""
    source: dict[str, Any] = dict(os.environ)
    source.update(overrides or {})
    max_streams = integer(
        source, "MAX_STREAMS_PER_WORKER", DEFAULT_MAX_STREAMS_PER_WORKER, minimum=1
    )
    return ServerSettings(
        # Heroku-style conventions: the platform sets PORT and WEB_CONCURRENCY.
        host=text(source, "HOST", "0.0.0.0"),
        port=integer(source, "PORT", 8000, minimum=0),
        workers=integer(source, "WEB_CONCURRENCY", 2, minimum=1),
        # Past MAX_STREAMS_PER_WORKER the app answers 503 at once, but only to
        # connections the worker has accepted: past worker_connections they would wait
        # unanswered in the listen queue. So a worker accepts twice its stream limit,
        # and at least 1,000.
        worker_connections=integer(
            source, "WORKER_CONNECTIONS", max(1000, 2 * max_streams), minimum=1
        ),
        graceful_timeout=integer(source, "GRACEFUL_TIMEOUT", 90, minimum=0),
        forwarded_allow_ips=text(source, "FORWARDED_ALLOW_IPS", "127.0.0.1,::1"),
        access_log=text(source, "GUNICORN_ACCESS_LOG", None),
        log_level=choice(source, "LOG_LEVEL", "INFO", LOG_LEVELS),
        # prometheus_client's own variable; unset, the master makes a temporary one.
        metrics_dir=text(source, "PROMETHEUS_MULTIPROC_DIR", None),
    )
