"""Starting and stopping the relay servers under test, one process tree per run.

Each server runs in its own session (so the whole tree can be killed by its process
group), pinned to one CPU core (inherited by gunicorn's workers), with its output in a
log file nobody has to drain, and with a parent-death signal so that even a harness
killed outright does not leave it running.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .http1 import PLACEHOLDER_API_KEY

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
VARIANTS = ("app", "naive", "floor", "wsgi")

MODEL = "bench-model"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _base_env() -> dict[str, str]:
    # Nothing from the caller's environment that could change the app's behaviour (a
    # developer's real OPENAI_API_KEY above all): only what a process needs to run.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {name: os.environ[name] for name in keep if name in os.environ}


@dataclass
class Launch:
    """How to start one variant: argv, extra environment, working directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


def _gevent_gunicorn(app: str, port: int, env: dict[str, str]) -> Launch:
    """A reference relay ``app`` (module:callable in bench/) under one gunicorn gevent worker."""
    argv = [
        str(VENV_BIN / "gunicorn"),
        "-k", "gevent", "-w", "1",
        "-b", f"127.0.0.1:{port}",
        "--worker-connections", "2000",
        # gunicorn 27 otherwise opens a control socket at a fixed path.
        "--no-control-socket",
        # Started from bench/ so gunicorn does not pick up the app's ./gunicorn.conf.py
        # (its worker hooks import streamchat); --chdir makes bench.* importable.
        "--chdir", str(ROOT),
        app,
    ]  # fmt: skip
    return Launch(argv, env, ROOT / "bench")


def launch_for(
    variant: str, port: int, upstream_port: int, max_streams: int, app_root: Path = ROOT
) -> Launch:
    """The command line of ``variant`` listening on ``port``, relaying to ``upstream_port``;
    the app variant runs from ``app_root`` (another checkout, say)."""
    base_url = f"http://127.0.0.1:{upstream_port}/v1"
    if variant == "app":
        # Exactly the Procfile's command, configured the way a platform would: by env.
        env = {
            "WEB_CONCURRENCY": "1",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "OPENAI_API_KEY": PLACEHOLDER_API_KEY,
            "OPENAI_BASE_URL": base_url,
            "OPENAI_MODEL": MODEL,
            "RATE_LIMIT": "",
            "MAX_STREAMS_PER_WORKER": str(max_streams),
            # wsgi.py reads a .env at the repository root for anything unset: not here.
            "PYTHON_DOTENV_DISABLED": "1",
        }
        argv = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"]
        return Launch(argv, env, app_root)
    if variant == "naive":
        env = {
            "OPENAI_API_KEY": PLACEHOLDER_API_KEY,
            "OPENAI_BASE_URL": base_url,
            "OPENAI_MODEL": MODEL,
        }
        return _gevent_gunicorn("bench.naive:app", port, env)
    if variant == "floor":
        argv = [
            sys.executable, "-m", "bench.floor",
            "--port", str(port), "--upstream-port", str(upstream_port), "--model", MODEL,
        ]  # fmt: skip
        return Launch(argv, {}, ROOT)
    if variant == "wsgi":
        return _gevent_gunicorn(
            "bench.wsgi_floor:app", port, {"BENCH_UPSTREAM_PORT": str(upstream_port)}
        )
    raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")


async def http_ready(port: int, timeout_s: float = 2.0) -> bool:
    """True when 127.0.0.1:``port`` answers a real HTTP request with any status line."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout_s
        )
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        line = await asyncio.wait_for(reader.readline(), timeout_s)
        return line.startswith(b"HTTP/1.")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


def _pin_and_tie_to_parent(core: int):
    def prepare() -> None:
        os.sched_setaffinity(0, {core})
        # If the harness dies without cleaning up, the kernel sends the server SIGTERM.
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return prepare


# Every server started and not yet killed: whatever the way out, none is left behind.
RUNNING: set[RelayServer] = set()


def kill_all() -> None:
    """Last-resort cleanup: SIGKILL every server still running."""
    for server in list(RUNNING):
        server.kill()


class RelayServer:
    """One relay server process tree: start, wait until it answers, stop."""

    def __init__(self, variant: str, launch: Launch, port: int, core: int, log_path: Path):
        self.variant = variant
        self.launch = launch
        self.port = port
        self.core = core
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        """The root pid of the tree (gunicorn's master)."""
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Start the process; its output goes to ``log_path``."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.launch.argv,
                cwd=self.launch.cwd,
                env={**_base_env(), **self.launch.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_pin_and_tie_to_parent(self.core),
            )
        RUNNING.add(self)

    async def wait_ready(self, timeout_s: float = 30.0, answer_s: float = 2.0) -> None:
        """Return once the server answers HTTP; raise if it exits or takes too long.

        A real request, not a TCP connect: gunicorn's master listens before its worker
        has imported the app. Each try waits ``answer_s`` for the answer.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.variant} exited with {self.process.returncode}")
            if await http_ready(self.port, min(answer_s, max(0.1, deadline - time.monotonic()))):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.variant} did not answer within {timeout_s:.0f} s")

    async def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL to the whole process group after ``grace_s``."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while self.process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        self.kill()

    def kill(self) -> None:
        """SIGKILL whatever is left of the process group (workers included) and reap."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        RUNNING.discard(self)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's output, for error reports."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
