"""prometheus_client's multiprocess mode under gunicorn: one scrape counts every worker.

Each worker writes its counts to files in PROMETHEUS_MULTIPROC_DIR; a scrape, whichever
worker answers it, adds them up. The directory must be set before any worker imports
prometheus_client and emptied when the server starts (old files would be counted
again); a worker that exits is marked dead so its open-stream gauge stops counting.
gunicorn.conf.py calls these from the master.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
_created: list[str] = []


def prepare_directory(directory: str | None) -> str:
    """Use ``directory`` (PROMETHEUS_MULTIPROC_DIR; emptied) or a new temporary one, and
    set the variable for the workers to inherit. Returns the directory."""
    if directory:
        os.environ[ENV] = directory
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        directory = tempfile.mkdtemp(prefix="streamchat-metrics-")
        _created.append(directory)
        os.environ[ENV] = directory
    return directory


def forget_worker(pid: int) -> None:
    """Mark a worker that exited as dead (its live gauges stop counting)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def remove_directory() -> None:
    """Remove the directory prepare_directory created, if it did."""
    for directory in _created:
        shutil.rmtree(directory, ignore_errors=True)
