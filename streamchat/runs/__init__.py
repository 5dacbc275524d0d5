"""Runs: one streamed reply each, from admission to settlement (docs/architecture.md,
"Request lifecycle").

``starting`` admits a request and opens its upstream (Runs.start: the draining check,
a stream place, the budget reservation, the upstream call) and ``run`` is the Run that
then owns the reply: it relays it through streamchat.relay, counts it, and ends once,
handing a RunResult to its listeners.

It may import settings, errors, state, relay, upstream, budgets and worker;
streamchat.runtime, web and app.py import it.
"""

from .run import Run, RunResult, ServerShuttingDown
from .starting import CHAT, RESPONSES, Api, Runs, ServerBusy, ServerDraining

__all__ = [
    "CHAT",
    "RESPONSES",
    "Api",
    "Run",
    "RunResult",
    "Runs",
    "ServerBusy",
    "ServerDraining",
    "ServerShuttingDown",
]
