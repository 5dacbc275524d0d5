"""Runs: one streamed reply each, from admission to settlement, outliving the
connections that read it (docs/architecture.md, "Runs").

``starting`` admits a request and opens its upstream (Runs.start: the draining check,
a stream place, the budget reservation, the upstream call); ``run`` is the Run that then
owns the reply, reading the upstream at its own pace into ``lines`` (RunLines), ending
once and handing a RunResult to its listeners. ``reader`` reads a run this worker owns,
``peers`` one another worker of the machine owns, ``finding`` picks which, ``registry``
holds this worker's runs, live and recently ended, and ``errors`` the refusals.

It may import settings, errors, state, relay, upstream, budgets and worker;
streamchat.runtime, web and app.py import it.
"""

from .errors import BadResumePoint, RunNotFound, TooManyReaders
from .lines import split_lines
from .reader import LocalReader
from .run import Run, RunResult, ServerShuttingDown
from .starting import CHAT, RESPONSES, Api, Runs, ServerBusy, ServerDraining

__all__ = [
    "CHAT",
    "RESPONSES",
    "Api",
    "BadResumePoint",
    "LocalReader",
    "Run",
    "RunNotFound",
    "RunResult",
    "Runs",
    "ServerBusy",
    "ServerDraining",
    "ServerShuttingDown",
    "TooManyReaders",
    "split_lines",
]
