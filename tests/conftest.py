"""Shared fixtures: the app with a fake SDK transport, and real servers on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest

from app import create_app
from tests.fake_upstream import FakeUpstream

ROOT = Path(__file__).resolve().parent.parent
# Shaped so nobody mistakes it for a real key, and so a leak is easy to grep for.
TEST_API_KEY = "test-key-not-real-0123456789"


def settings_read_by_the_code() -> set[str]:
    """Every environment variable streamchat/settings/ and gunicorn.conf.py read."""
    settings = "".join(p.read_text() for p in sorted((ROOT / "streamchat/settings").glob("*.py")))
    gunicorn = (ROOT / "gunicorn.conf.py").read_text()
    names = set(re.findall(r'source,\s*"([A-Z][A-Z_]+)"', settings))
    names |= set(re.findall(r'source\.get\("([A-Z][A-Z_]+)"\)', settings))
    names |= set(re.findall(r"os\.environ\.get\(\s*[\"']([A-Z][A-Z_]+)[\"']", gunicorn))
    return names


# A developer's shell may set any of these (a real key above all); no test inherits them.
SETTING_NAMES = frozenset(settings_read_by_the_code())


def _inherited(name: str) -> bool:
    return name in SETTING_NAMES or name.startswith(("OPENAI_", "DEMO_"))


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch):
    """No developer's real key or settings leak into a test."""
    for name in list(os.environ):
        if _inherited(name):
            monkeypatch.delenv(name)


def sse_body(payloads: list[bytes], done: bool = True) -> bytes:
    """Real SSE bytes as OpenAI sends them: ``data: <json>`` and a blank line each."""
    events = [b"data: " + p + b"\n\n" for p in payloads]
    if done:
        events.append(b"data: [DONE]\n\n")
    return b"".join(events)


class RecordingTransport(httpx2.MockTransport):
    """A MockTransport that keeps the requests the SDK sent."""

    def __init__(self, handler: Callable[[httpx2.Request], httpx2.Response]) -> None:
        self.requests: list[httpx2.Request] = []

        def record(request: httpx2.Request) -> httpx2.Response:
            request.read()
            self.requests.append(request)
            return handler(request)

        super().__init__(record)


@pytest.fixture
def report(capsys):
    """``report(text)``: print a figure to the terminal even though pytest captures output,
    so measured numbers (soak, leak counts, time to first line) show in every CI log."""

    def write(text: str) -> None:
        with capsys.disabled():
            print(f"\n[figures] {text}")

    return write


@pytest.fixture
def make_app():
    """``make_app(handler, **settings)``: the app whose SDK talks to ``handler``."""

    def build(handler=None, **settings):
        transport = RecordingTransport(handler) if handler else None
        config = {
            "TESTING": True,
            "OPENAI_API_KEY": TEST_API_KEY,
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_MAX_RETRIES": "0",
            "RATE_LIMIT": "",
            **settings,
        }
        if transport:
            config["OPENAI_HTTP_CLIENT"] = httpx2.Client(transport=transport)
        app = create_app(config)
        app.transport = transport
        return app

    return build


@pytest.fixture
def app(make_app):
    """The app on the demo model, fast-paced."""
    return make_app(OPENAI_API_KEY="", DEMO_TOKENS_PER_SECOND="2000")


@pytest.fixture
def client(app):
    """Flask's test client for ``app``."""
    return app.test_client()


def wait_for(predicate, seconds: float = 10.0, interval: float = 0.02):
    """Poll ``predicate`` until it returns something truthy or ``seconds`` pass.

    Returns that first truthy value, or the last value once time is up, so callers can
    both assert on it and use it.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    return predicate()


def run_threads(target, args_list: list[tuple], seconds: float) -> float:
    """Run ``target`` once per argument tuple, each in its own thread, all at once.

    Waits up to ``seconds`` for them, fails the test if any is still running then, and
    returns the wall time from the first start to the last end.
    """
    threads = [threading.Thread(target=target, args=args) for args in args_list]
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    took = time.monotonic() - start
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return took


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
            if httpx2.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
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


def server_env(**settings: str) -> dict[str, str]:
    """The environment for a server under test: loopback only, no inherited secrets."""
    env = {k: v for k, v in os.environ.items() if not _inherited(k)}
    # Rate limiting is off unless a test is about it: suites send many requests from one address.
    env.update(
        {"HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", "PYTHONUNBUFFERED": "1", "RATE_LIMIT": ""}
    )
    # Nor from a .env file a developer keeps at the repository root (wsgi.py and flask
    # run read it for anything unset): it would fill in the settings stripped above.
    env.update({"PYTHON_DOTENV_DISABLED": "1", "FLASK_SKIP_DOTENV": "1"})
    env.update(settings)
    return env


def start_gunicorn(app_module: str = "wsgi:app", **settings: str) -> RunningServer:
    """gunicorn exactly as the Procfile runs it (gevent worker), on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app_module]
    return RunningServer(command, server_env(PORT=str(port), **settings), port)


def start_gunicorn_against(
    base_url: str, app_module: str = "wsgi:app", **settings: str
) -> RunningServer:
    """start_gunicorn with the test key, ``base_url`` as the upstream, and no retries (a
    fault a test injects must reach the app, not be retried away)."""
    settings = {"OPENAI_API_KEY": TEST_API_KEY, "OPENAI_MAX_RETRIES": "0", **settings}
    return start_gunicorn(app_module, OPENAI_BASE_URL=base_url, **settings)


def start_flask_run(**settings: str) -> RunningServer:
    """The local workflow: ``flask run`` (Werkzeug's threaded dev server)."""
    port = free_port()
    command = [sys.executable, "-m", "flask", "--app", "app", "run", "--port", str(port)]
    return RunningServer(command, server_env(**settings), port)


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[FakeUpstream]:
    """The tests' own OpenAI-compatible upstream on 127.0.0.1."""
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def live_server(fake_upstream) -> Iterator[RunningServer]:
    """The real gunicorn + gevent server, one worker, talking to ``fake_upstream``."""
    server = start_gunicorn_against(
        fake_upstream.base_url,
        OPENAI_STREAM_USAGE="false",
        HEARTBEAT_SECONDS="0.5",
    )
    yield server
    server.stop()
