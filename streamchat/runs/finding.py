"""Finding a run by id for a reader or a stop, wherever it lives: in this worker's
registry, else at the worker of this machine its id names (streamchat.runs.peers), else,
with Redis, at the instance that owns it (streamchat.runs.remote).

A run belongs to whoever started it (``who``: the signed-in user's or the API token's
id; None with AUTH=none, where holding the id is enough). Any other caller gets the same
RunNotFound as for an id that never existed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..state import StateUnavailable
from ..state.redis_messages import RedisMessages
from .errors import BadResumePoint, RunNotFound
from .peers import NoSuchPeer, PeerReader, stop_at_peer
from .reader import LocalReader
from .registry import RunRegistry, owner_of
from .remote import RemoteReader


@dataclass(frozen=True)
class Whereabouts:
    """Where this worker looks for runs: its registry, its machine's other workers, and
    (with REDIS_URL) other instances."""

    registry: RunRegistry
    machine: str
    messages: RedisMessages | None
    heartbeat_seconds: float


def _remote(where: Whereabouts, owner: str, request: dict) -> RemoteReader:
    if where.messages is None:
        raise RunNotFound()
    try:
        return RemoteReader(where.messages, owner, request, where.heartbeat_seconds)
    except StateUnavailable:
        raise RunNotFound() from None  # Redis away: another instance's run is out of reach


def open_reader(
    where: Whereabouts, run_id: str, after: int, who: str | None
) -> LocalReader | PeerReader | RemoteReader:
    """A reader of the run ``run_id`` from line ``after`` on. Raises RunNotFound,
    BadResumePoint (more lines than the run has produced) or TooManyReaders."""
    owner = owner_of(run_id)
    if owner is None:
        raise RunNotFound()
    if owner != where.registry.owner:
        try:
            return PeerReader(where.machine, owner, run_id, after, who)
        except NoSuchPeer:
            request = {"op": "read", "run": run_id, "after": after, "who": who}
            return _remote(where, owner, request)
    run = where.registry.get(run_id)
    if run is None or run.who != who:
        raise RunNotFound()
    if after > len(run.lines.lines):
        raise BadResumePoint()
    return LocalReader(run)


def stop_run(where: Whereabouts, run_id: str, who: str | None) -> None:
    """Stop the run ``run_id`` (RunNotFound when there is none of ``who``'s)."""
    owner = owner_of(run_id)
    if owner is None:
        raise RunNotFound()
    if owner != where.registry.owner:
        try:
            stop_at_peer(where.machine, owner, run_id, who)
        except NoSuchPeer:
            _remote(where, owner, {"op": "stop", "run": run_id, "who": who}).close()
        return
    run = where.registry.get(run_id)
    if run is None or run.who != who:
        raise RunNotFound()
    run.stop()
