"""Starting our own servers as a deployment does: gunicorn as the Procfile runs it, and
``flask run``, each on a free loopback port, with no setting inherited from the shell."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import httpx2

from tests.support.environment import ROOT, TEST_API_KEY, server_env

# The real app plus a /_probe route counting live greenlets and open descriptors.
PROBE_APP = "tests.support.probe_wsgi:app"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(app_module: str = "wsgi:app") -> list[str]:
    """The Procfile's gunicorn command line, run with this interpreter from the root."""
    return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app_module]


def flask_run_command(port: int) -> list[str]:
    """The local workflow's ``flask run`` command line, on ``port``."""
    return [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)]


def wait_until_serving(
    port: int, process: subprocess.Popen, output: Callable[[], str], seconds: float = 30.0
) -> None:
    """Block until the app answers HTTP on 127.0.0.1:port, or fail with the server's output.

    A bare TCP connect is not enough: gunicorn's master listens before its worker has
    imported the app, and the first request would pay for the boot.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{output()}")
        try:
            # 303: with sign-in on, the page sends an anonymous visitor to /login.
            if httpx2.get(f"http://127.0.0.1:{port}/", timeout=2).status_code in (200, 303):
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server did not answer on {port} within {seconds}s")


class RunningServer:
    """A server process of ours, started as the Procfile (or flask run) starts it."""

    def __init__(self, command: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        # A file, not a pipe: nobody drains a pipe while the server runs, and a full one
        # would block the server's logging and so the server.
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True
        )
        wait_until_serving(port, self.process, self.output)

    def output(self) -> str:
        """What the server has printed so far."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> str:
        """Stop the server and return what it printed (again, if already stopped)."""
        if self.log.closed:
            return self._final_output
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._final_output = self.output()
        self.log.close()
        return self._final_output


def start_gunicorn(app_module: str = "wsgi:app", **settings: str) -> RunningServer:
    """gunicorn exactly as the Procfile runs it (gevent worker), on a free loopback port."""
    port = free_port()
    return RunningServer(gunicorn_command(app_module), server_env(PORT=str(port), **settings), port)


def upstream_settings(base_url: str, **settings: str) -> dict[str, str]:
    """The settings of a server talking to ``base_url`` with the test key and no retries
    (a fault a test injects must reach the app, not be retried away); ``settings`` win."""
    return {
        "OPENAI_API_KEY": TEST_API_KEY,
        "OPENAI_BASE_URL": base_url,
        "OPENAI_MAX_RETRIES": "0",
        **settings,
    }


def start_gunicorn_against(
    base_url: str, app_module: str = "wsgi:app", **settings: str
) -> RunningServer:
    """start_gunicorn with the test key, ``base_url`` as the upstream, and no retries."""
    return start_gunicorn(app_module, **upstream_settings(base_url, **settings))


def start_flask_run(**settings: str) -> RunningServer:
    """The local workflow: ``flask run`` (Werkzeug's threaded dev server)."""
    port = free_port()
    return RunningServer(flask_run_command(port), server_env(**settings), port)
