"""Finding a run by id for a reader or a stop, wherever on this machine it lives: in this
worker's registry, else at the worker its id names (streamchat.runs.peers).

A run belongs to whoever started it (``who``: the signed-in user's or the API token's
id; None with AUTH=none, where holding the id is enough). Any other caller gets the same
RunNotFound as for an id that never existed.
"""

from __future__ import annotations

from .errors import BadResumePoint, RunNotFound
from .peers import PeerReader, stop_at_peer
from .reader import LocalReader
from .registry import RunRegistry, owner_of


def open_reader(
    registry: RunRegistry, machine: str, run_id: str, after: int, who: str | None
) -> LocalReader | PeerReader:
    """A reader of the run ``run_id`` from line ``after`` on. Raises RunNotFound,
    BadResumePoint (more lines than the run has produced) or TooManyReaders."""
    owner = owner_of(run_id)
    if owner is None:
        raise RunNotFound()
    if owner != registry.owner:
        return PeerReader(machine, owner, run_id, after, who)
    run = registry.get(run_id)
    if run is None or run.who != who:
        raise RunNotFound()
    if after > len(run.lines.lines):
        raise BadResumePoint()
    return LocalReader(run)


def stop_run(registry: RunRegistry, machine: str, run_id: str, who: str | None) -> None:
    """Stop the run ``run_id`` (RunNotFound when there is none of ``who``'s)."""
    owner = owner_of(run_id)
    if owner is None:
        raise RunNotFound()
    if owner != registry.owner:
        stop_at_peer(machine, owner, run_id, who)
        return
    run = registry.get(run_id)
    if run is None or run.who != who:
        raise RunNotFound()
    run.stop()
