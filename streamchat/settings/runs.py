"""How long a reply (a run) outlives its readers, and how much of it is kept: the run
settings, parsed and checked at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .values import integer, number

MIB = 1 << 20


@dataclass(frozen=True)
class RunSettings:
    """RUN_GRACE_SECONDS, RUN_KEEP_SECONDS, RUN_MAX_BYTES, RUN_KEEP_MAX_BYTES,
    MAX_READERS_PER_RUN and CLIENT_WRITE_TIMEOUT_SECONDS."""

    grace_seconds: float = 60.0  # generating on with no reader; 0: stop when the last leaves
    keep_seconds: float = 60.0  # readable after it ends
    max_bytes: int = 8 * MIB  # one run's lines
    keep_max_bytes: int = 64 * MIB  # every ended run's lines, per worker
    max_readers: int = 8  # readers of one run at once
    client_write_timeout_seconds: float = 30.0  # a reader that accepts nothing is dropped


def load_run_settings(source: Mapping[str, Any]) -> RunSettings:
    """The run settings from ``source`` (the environment and create_app's overrides)."""
    return RunSettings(
        grace_seconds=number(source, "RUN_GRACE_SECONDS", 60.0, minimum=0.0),
        keep_seconds=number(source, "RUN_KEEP_SECONDS", 60.0, minimum=0.0),
        max_bytes=integer(source, "RUN_MAX_BYTES", 8 * MIB, minimum=64 * 1024),
        keep_max_bytes=integer(source, "RUN_KEEP_MAX_BYTES", 64 * MIB, minimum=0),
        max_readers=integer(source, "MAX_READERS_PER_RUN", 8, minimum=1),
        client_write_timeout_seconds=number(
            source, "CLIENT_WRITE_TIMEOUT_SECONDS", 30.0, minimum=0.1
        ),
    )
