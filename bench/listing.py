"""The listing scenario: how long the sidebar's query takes for a person who keeps many
conversations (``GET /api/conversations?limit=50``), through the real app on its
default database (SQLite).

The app starts signed in (an API token made for the run), the conversations are made
through the API itself (``POST /api/conversations``), then pages of 50 are asked for one
after another over one keep-alive connection, walking the cursors from the newest to
the oldest and round again: the latency of each answer (request sent to body read) is
the figure. Writes listing.json and listing.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import tempfile
import time
from pathlib import Path

from .appconfig import AppConfig, app_config
from .environment import describe
from .report import header, progress, write_results
from .servers import RelayServer, free_port, launch_for
from .stats import distribution_ms
from .upstream import FakeUpstream

PAGE = 50


def _ask(http: http.client.HTTPConnection, method: str, path: str, headers: dict) -> dict:
    http.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
    answer = http.getresponse()
    data = answer.read()
    if answer.status >= 300:
        raise RuntimeError(f"{method} {path}: {answer.status} {data[:200]!r}")
    return json.loads(data)


def _fill(http: http.client.HTTPConnection, headers: dict, count: int) -> None:
    started = time.monotonic()
    for made in range(count):
        _ask(http, "POST", "/api/conversations", headers)
        if made and made % 2000 == 0:
            progress(f"{made} conversations made ({time.monotonic() - started:.0f} s)")


def _walk(http: http.client.HTTPConnection, headers: dict, requests: int) -> list[int]:
    latencies, cursor = [], None
    for _ in range(requests):
        path = f"/api/conversations?limit={PAGE}" + (f"&before={cursor}" if cursor else "")
        started = time.perf_counter_ns()
        page = _ask(http, "GET", path, headers)
        latencies.append(time.perf_counter_ns() - started)
        cursor = page["next"]  # None after the oldest page: round again from the newest
    return latencies


async def listing(args: argparse.Namespace) -> int:
    """The listing scenario; exit status 1 if the app did not start or a request failed."""
    args.signed_in = args.signed_in or "token"
    workdir = Path(tempfile.mkdtemp(prefix="streamchat-bench-"))
    upstream = FakeUpstream(tokens=1, interval_ms=20)
    await upstream.start()
    port = free_port()
    app: AppConfig = app_config(args, workdir)
    launch = launch_for("app", port, upstream.port, 100, app.root)
    launch.env.update(app.env())
    server = RelayServer("app", launch, port, 0, workdir / "app.log")
    try:
        app.migrate()
        server.start()
        await server.wait_ready()
        headers = {**await app.headers(port), "Content-Type": "application/json"}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        _fill(connection, headers, args.conversations)
        _walk(connection, headers, 20)  # warm-up
        latencies = _walk(connection, headers, args.requests)
        connection.close()
    except (OSError, RuntimeError) as error:
        progress(f"the listing failed: {error}\n{server.log_tail()}")
        return 1
    finally:
        await server.stop()
        await upstream.close()
        shutil.rmtree(workdir, ignore_errors=True)
    results = {
        "meta": describe(app.root),
        "params": {"conversations": args.conversations, "page": PAGE, "requests": args.requests},
        "latency_ms": distribution_ms(latencies, points=(50, 95, 99)),
    }
    write_results(args.out, "listing", results, _markdown(results))
    return 0


def _markdown(results: dict) -> str:
    params, latency = results["params"], results["latency_ms"]
    return "\n".join(
        [
            "# streamchat: listing conversations",
            "",
            *header(results),
            f"`GET /api/conversations?limit={params['page']}` for one person who keeps "
            f"{params['conversations']:,} conversations (SQLite), {params['requests']} pages "
            "in a row over one connection, walking the cursors.",
            "",
            "| p50 ms | p95 ms | p99 ms | max ms |",
            "| ---: | ---: | ---: | ---: |",
            f"| {latency['p50']} | {latency['p95']} | {latency['p99']} | {latency['max']} |",
            "",
        ]
    )
