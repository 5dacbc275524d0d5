"""What the figures were measured on: machine, software versions, code revision."""

from __future__ import annotations

import datetime
import os
import platform
import resource
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("flask", "gunicorn", "gevent", "greenlet", "openai", "httpx2", "pydantic", "uvloop")


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe(root: Path) -> dict:
    """Date (UTC), git commit, CPU, core count and versions, for bench.json."""
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": _git(root, "rev-parse", "HEAD"),
        # Uncommitted changes to tracked files mean the commit alone does not say what ran.
        "git_dirty": bool(status) if status is not None else None,
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in PACKAGES},
        "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
