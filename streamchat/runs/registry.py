"""This worker's runs by id: the live ones, and the ended ones for RUN_KEEP_SECONDS, at
most RUN_KEEP_MAX_BYTES of them together (oldest dropped first), so kept replies never
become the worker's biggest memory.

A run id names its owner, the worker that holds its lines (``<owner>.<random>``), so any
worker of the machine knows whom to ask (streamchat.runs.peers); the random part is
144 bits from ``secrets``, which is what makes an id unguessable.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections import OrderedDict

from ..settings.runs import RunSettings
from .run import Run, RunResult

_RUN_ID = re.compile(r"([0-9a-f]{4,24})\.[A-Za-z0-9_-]{24}")


def owner_of(run_id: str) -> str | None:
    """The owner part of a well-formed run id, else None."""
    found = _RUN_ID.fullmatch(run_id)
    return found.group(1) if found else None


class RunRegistry:
    """The runs this worker owns."""

    def __init__(self, settings: RunSettings) -> None:
        self._settings = settings
        self._live: dict[str, Run] = {}
        self._ended: OrderedDict[str, tuple[Run, float]] = OrderedDict()  # oldest first
        self._ended_bytes = 0
        self._lock = threading.Lock()
        self._sweeping = False
        self._owner = ""
        self._pid = 0

    @property
    def owner(self) -> str:
        """This worker's part of its run ids: its pid and a nonce, made after the fork
        (a later worker that gets the same pid is not taken for this one)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._owner = f"{self._pid:x}{secrets.token_hex(3)}"
        return self._owner

    def new_id(self) -> str:
        """A fresh, unguessable run id naming this worker."""
        return f"{self.owner}.{secrets.token_urlsafe(18)}"

    def add(self, run: Run) -> None:
        """Hold ``run`` while it lives, and for RUN_KEEP_SECONDS after it ends."""
        with self._lock:
            self._live[run.id] = run
        run.when_ended(lambda result: self._keep(run, result))

    def get(self, run_id: str) -> Run | None:
        """The run with this id, live or still kept, else None."""
        with self._lock:
            self._forget_expired(time.monotonic())
            run = self._live.get(run_id)
            if run is None:
                kept = self._ended.get(run_id)
                run = kept[0] if kept else None
            return run

    def live(self) -> list[Run]:
        """The runs still generating."""
        with self._lock:
            return list(self._live.values())

    def _keep(self, run: Run, result: RunResult) -> None:
        with self._lock:
            self._live.pop(run.id, None)
            self._ended[run.id] = (run, time.monotonic() + self._settings.keep_seconds)
            self._ended_bytes += run.lines.size
            self._forget_expired(time.monotonic())
            if self._sweeping or not self._ended:
                return
            self._sweeping = True
        # Kept replies go when they expire even if nothing else happens in this worker.
        threading.Thread(target=self._sweep, name="kept-runs", daemon=True).start()

    def _sweep(self) -> None:
        while True:
            time.sleep(max(1.0, self._settings.keep_seconds / 4))
            with self._lock:
                self._forget_expired(time.monotonic())
                if not self._ended:
                    self._sweeping = False
                    return

    def _forget_expired(self, now: float) -> None:
        ended = self._ended
        while ended:
            run_id, (run, expires) = next(iter(ended.items()))
            if expires > now and self._ended_bytes <= self._settings.keep_max_bytes:
                return
            del ended[run_id]
            self._ended_bytes -= run.lines.size
