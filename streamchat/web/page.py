"""The chat page: server-rendered markup that tells the page's modules what they need."""

from __future__ import annotations

from flask import Blueprint, render_template

from ..identity import current_identity
from ..runtime import current_runtime

page = Blueprint("page", __name__)


@page.get("/")
def index():
    """The chat page: the models, the API to use, the runs' grace and where
    conversations are kept ride on data attributes; the demo badge shows when no key is
    set."""
    runtime = current_runtime()
    settings = runtime.settings
    identity = current_identity()
    html = render_template(
        "index.html",
        demo=settings.demo,
        models=list(settings.openai_models),
        default_model=settings.openai_model,
        api=settings.chat_api,
        stream_format=settings.stream_format,
        identity=identity,
        # The page asks /api/budget only when a budget is set (static/budgetview.js).
        budget=bool(settings.token_budget or settings.global_token_budget),
        # How long a reply's run outlives its readers: how long the page tries to reach
        # it again after the connection dropped (static/runs.js).
        run_grace=f"{settings.runs.grace_seconds:g}",
        # Where the page keeps conversations: on the server for a signed-in person
        # (/api/conversations), else in this browser (static/storage.js).
        conversations="server" if identity and runtime.conversations else "local",
        # How many images a message may carry, and how large (static/attachments.js).
        max_images=settings.images.max_per_message,
        max_image_bytes=settings.images.max_bytes,
    )
    # Asked again on every visit: it names the current /static/<version>/ URLs, and those
    # are cached for a year.
    return html, {"Cache-Control": "no-cache"}
