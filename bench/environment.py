"""What the figures were measured on: machine, software versions, code revision."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import resource
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# What the app variant runs: its fingerprint says which code a run measured.
APP_SOURCES = ("app.py", "wsgi.py", "gunicorn.conf.py", "streamchat")
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


def app_source_fingerprint(root: Path) -> str:
    """A short hash of the app's Python sources as they are on disk right now.

    The benchmark runs the working tree, which may differ from the commit (and may be
    edited while the benchmark runs): each app run records this to say what it measured.
    """
    digest = hashlib.sha256()
    for name in APP_SOURCES:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            try:
                digest.update(file.read_bytes())
            except OSError:
                digest.update(b"<unreadable>")
    return digest.hexdigest()[:12]


def describe(root: Path) -> dict:
    """Date (UTC), git commit, CPU, core count and versions, for the results' JSON."""
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    app_changes = _git(root, "status", "--porcelain", "--", *APP_SOURCES)
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": _git(root, "rev-parse", "HEAD"),
        # Uncommitted changes to tracked files mean the commit alone does not say what ran.
        "git_dirty": bool(status) if status is not None else None,
        # The app's files that differ from the commit (modified or new), if any.
        "app_uncommitted": [line.strip() for line in (app_changes or "").splitlines()],
        "app_source_at_start": app_source_fingerprint(root),
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in PACKAGES},
        "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def core_speed_ms(core: int, iterations: int = 2_000_000) -> float:
    """Milliseconds a fixed pure-Python loop takes on ``core``: a yardstick for how fast
    that core is right now (virtual machines' cores slow down when the host is busy)."""
    code = (
        "import time\nt = time.perf_counter()\n"
        f"for _ in range({iterations}): pass\n"
        "print(time.perf_counter() - t)"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            preexec_fn=lambda: os.sched_setaffinity(0, {core}),
        )
    except (OSError, subprocess.SubprocessError):
        return float("nan")
    return round(float(out.stdout) * 1000, 1)
