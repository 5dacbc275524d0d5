"""CPU per streamed request that token budgets add: the same POST /api/chat, answered by
an in-process upstream (a 72-token reply with usage), with no budget, with
TOKEN_BUDGET and GLOBAL_TOKEN_BUDGET counted in the machine's SQLite file, and counted
in a private redis-server on 127.0.0.1 when one is installed.

    .venv/bin/python -m bench.budget_cost [N]

A budget is a check and a reservation before the upstream call and one settling when
the stream ends; nothing of it runs per chunk, so this is its whole cost. The figure is
the calling thread's CPU, so the wait for Redis's answers is not in it.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from werkzeug.test import EnvironBuilder

from app import create_app
from tests.support.payloads import counted_reply, sse_body

from .http1 import PLACEHOLDER_API_KEY

_BODY = b'{"messages":[{"role":"user","content":"Hello there"}]}'
_REPLY = sse_body(counted_reply("chatcmpl-bench", prompt=12, completion=60))
_ROUNDS = 9
# Never spent within a run: every request is admitted and settled.
_BUDGETS = {"TOKEN_BUDGET": "1000000000/day", "GLOBAL_TOKEN_BUDGET": "1000000000/day"}


def _upstream(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_REPLY)


def _app(**settings: str):
    return create_app(
        {
            "TESTING": True,
            "RATE_LIMIT": "",
            "LOG_LEVEL": "WARNING",
            "OPENAI_API_KEY": PLACEHOLDER_API_KEY,
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "OPENAI_HTTP_CLIENT": httpx2.Client(transport=httpx2.MockTransport(_upstream)),
            **settings,
        }
    )


def _one_stream(app) -> None:
    environ = EnvironBuilder(
        path="/api/chat", method="POST", data=_BODY, content_type="application/json"
    ).get_environ()
    statuses: list[str] = []
    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    for _ in body:
        pass
    body.close()
    assert statuses == ["200 OK"], statuses


def _us_per_stream(app, n: int) -> float:
    started = time.thread_time()
    for _ in range(n):
        _one_stream(app)
    return (time.thread_time() - started) / n * 1e6


def _private_redis() -> tuple[str, subprocess.Popen] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return f"redis://127.0.0.1:{port}", process
        except OSError:
            time.sleep(0.025)
    process.kill()
    return None


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    folder = Path(tempfile.mkdtemp(prefix="budget-cost-"))
    cases = {
        "no budget": _app(SQLITE_PATH=str(folder / "none.sqlite3")),
        "SQLite": _app(SQLITE_PATH=str(folder / "counts.sqlite3"), **_BUDGETS),
    }
    redis = _private_redis()
    if redis:
        cases["Redis"] = _app(RATELIMIT_STORAGE_URI=redis[0], **_BUDGETS)
    try:
        for app in cases.values():  # warm up, and check each is served
            for _ in range(20):
                _one_stream(app)
        seen: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(_ROUNDS):  # the cases take turns: cores here drift
            for name, app in cases.items():
                seen[name].append(_us_per_stream(app, n))
    finally:
        if redis:
            redis[1].kill()
        shutil.rmtree(folder, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in seen.items()}
    base = median["no budget"]
    print(f"POST /api/chat x {n} per round, median of {_ROUNDS} interleaved rounds,", end=" ")
    print("CPU per stream:")
    for name, value in median.items():
        added = "" if name == "no budget" else f"  (+{value - base:.1f} us)"
        print(f"  {name:10} {value:8.1f} us{added}")


if __name__ == "__main__":
    main()
