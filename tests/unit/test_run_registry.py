"""A worker's registry of runs: ids that name their owner, ended runs kept for
RUN_KEEP_SECONDS and within RUN_KEEP_MAX_BYTES (oldest first), and gone when they expire
even if nothing else happens."""

from __future__ import annotations

import re

from streamchat.runs.registry import RunRegistry, owner_of
from streamchat.settings.runs import RunSettings
from tests.support.waiting import wait_for


class FakeLines:
    def __init__(self, size: int) -> None:
        self.size = size


class FakeRun:
    def __init__(self, run_id: str, size: int) -> None:
        self.id = run_id
        self.lines = FakeLines(size)
        self.listeners = []

    def when_ended(self, listener) -> None:
        self.listeners.append(listener)

    def end(self) -> None:
        for listener in self.listeners:
            listener(None)


def test_a_run_id_names_its_owner_and_is_unguessable():
    registry = RunRegistry(RunSettings())
    ids = {registry.new_id() for _ in range(1000)}
    assert len(ids) == 1000
    for run_id in ids:
        owner, random_part = run_id.split(".")
        assert owner_of(run_id) == owner == registry.owner
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", random_part)  # 144 bits
    assert owner_of("nonsense") is None and owner_of(registry.owner + ".short") is None


def test_ended_runs_are_kept_within_their_bytes_oldest_first():
    registry = RunRegistry(RunSettings(keep_seconds=60, keep_max_bytes=250))
    runs = [FakeRun(f"run-{i}", 100) for i in range(3)]
    for run in runs:
        registry.add(run)
    assert all(registry.get(run.id) is run for run in runs)
    for run in runs:
        run.end()
    # 300 bytes kept would be over 250: the oldest went.
    assert registry.get("run-0") is None
    assert registry.get("run-1") is runs[1] and registry.get("run-2") is runs[2]


def test_ended_runs_go_when_they_expire_without_another_request():
    registry = RunRegistry(RunSettings(keep_seconds=0.2))
    run = FakeRun("run-x", 10)
    registry.add(run)
    run.end()
    assert registry._ended  # kept for now
    assert wait_for(lambda: not registry._ended, 5)  # nobody asked: the sweep let it go
