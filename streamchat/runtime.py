"""What one app instance holds for its requests, and the one typed way to reach it.

``create_app`` builds a Runtime once (settings, the SDK client, this worker's open
streams and the runs that fill them, the readiness check, the metrics, the token
budgets) and installs it on the app; views and hooks reach it with
``current_runtime()`` (in a request) or ``runtime_of(app)`` (outside one, e.g.
gunicorn's worker hooks). streamchat.web, app.py and gunicorn.conf.py import it; it
imports the layers it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import openai
from flask import Flask, current_app

from .budgets import Budgets
from .conversations import ConversationStore
from .metrics.collectors import StreamMetrics
from .runs import Runs
from .settings import Settings
from .upstream.readiness import ReadinessCheck
from .worker.body_bytes import BodyBytes
from .worker.open_streams import OpenStreams
from .worker.stalled_writes import StalledWrites

_EXTENSION = "streamchat"


@dataclass(frozen=True)
class Runtime:
    """What the views need, built once per app: settings, the upstream client, this
    worker's open streams and runs, the readiness check, and the metrics, budgets and
    conversations when on."""

    settings: Settings
    client: openai.OpenAI
    streams: OpenStreams
    runs: Runs
    readiness: ReadinessCheck
    stalled_writes: StalledWrites
    metrics: StreamMetrics | None = None
    budgets: Budgets | None = None
    conversations: ConversationStore | None = None  # with AUTH set
    body_bytes: BodyBytes | None = None  # request bodies read at once; None: no bound


def install_runtime(app: Flask, runtime: Runtime) -> None:
    """Make ``runtime`` the one ``app`` serves with."""
    app.extensions[_EXTENSION] = runtime


def runtime_of(app: Flask) -> Runtime:
    """The Runtime ``create_app`` installed on ``app``."""
    return app.extensions[_EXTENSION]


def current_runtime() -> Runtime:
    """The Runtime of the app handling the current request."""
    return runtime_of(current_app)
