"""The request scenario: CPU per request on the request path, through the real app.

Each request is a ``POST /api/chat`` on a new connection, as in a burst of new streams,
and the fake upstream answers it with a one-token stream: what the app spends is its
per-request work (gunicorn's parsing, Flask, validation, admission, the SDK's request
path, the upstream connect, the log line) plus two relayed chunks. The figure is the
app's whole process tree's CPU over a batch of requests, divided by the batch size.

The plain app (no sign-in, no budget) is always measured. With ``--signed-in`` or
``--app-setting`` a second server with that feature on runs beside it,
pinned to the same core, and the two take turns batch by batch (a shared machine's speed
drifts within minutes); each figure is the median over the rounds and the difference of
the medians is what the feature costs per request. Writes request.json and request.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from .appconfig import AppConfig, app_config
from .environment import describe
from .loadgen import run_streams
from .procstat import cpu_ns, process_tree, relay_and_harness_cores
from .report import header, progress, write_results
from .servers import RelayServer, free_port, launch_for
from .stats import distribution_ms
from .upstream import FakeUpstream

WARMUP_REQUESTS = 20
# Far above the requests open at once: admission never turns one away.
MAX_STREAMS = 10_000
# A batch's requests end within this of the last one starting, or count as failed.
SLACK_S = 30.0


class _Case:
    """One server under test and its batches' figures."""

    def __init__(self, name: str, app: AppConfig, upstream_port: int, core: int) -> None:
        self.name = name
        self.app = app
        port = free_port()
        launch = launch_for("app", port, upstream_port, MAX_STREAMS, app.root)
        launch.env.update(app.env())
        self.server = RelayServer("app", launch, port, core, app.workdir / f"{name}.log")
        self.headers: dict[str, str] = {}
        self.body = b""
        self.us_per_request: list[float] = []
        self.ttfb_ns: list[int] = []
        self.ok = self.failed = 0
        self.failures: dict[str, int] = {}

    async def start(self) -> None:
        try:
            self.app.migrate()
            self.server.start()
            await self.server.wait_ready()
            self.headers = await self.app.headers(self.server.port)
            self.body = await self.app.body(self.server.port, self.headers)
        except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
            raise RuntimeError(f"{self.name}: {error}\n{self.server.log_tail()}") from error

    async def batch(self, requests: int, rate: float, measured: bool = True) -> None:
        """``requests`` requests started evenly at ``rate`` per second; CPU per request."""
        pids = process_tree(self.server.pid)
        before = cpu_ns(pids)
        ramp_s = requests / rate
        results, _ = await run_streams(
            self.server.port, requests, ramp_s, ramp_s + SLACK_S, self.headers, self.body
        )
        spent_ns = cpu_ns(pids) - before
        if not measured:
            return
        self.us_per_request.append(round(spent_ns / requests / 1000, 1))
        for result in results:
            outcome = result.outcome(1)
            if outcome == "ok":
                self.ok += 1
                self.ttfb_ns.append(result.ttfb_ns)
            else:
                self.failed += 1
                self.failures[outcome] = self.failures.get(outcome, 0) + 1

    def figures(self) -> dict:
        values = self.us_per_request
        return {
            "case": self.name,
            "settings": self.app.shown(),
            "signed_in": self.app.sign_in,
            "conversation": self.app.conversation,
            "cpu_us_per_request": statistics.median(values),
            "cpu_us_per_request_range": [min(values), max(values)],
            "cpu_us_per_request_rounds": values,
            "requests": {"ok": self.ok, "failed": self.failed, "failures": self.failures},
            "ttfb_ms": distribution_ms(self.ttfb_ns),
        }


async def request(args: argparse.Namespace) -> int:
    """The request scenario; exit status 1 if a server did not start or a request failed."""
    relay_core, harness_core, core_warning = relay_and_harness_cores()
    os.sched_setaffinity(0, {harness_core})
    workdir = Path(tempfile.mkdtemp(prefix="streamchat-bench-"))
    upstream = FakeUpstream(tokens=1, interval_ms=20)
    await upstream.start()
    cases: list[_Case] = []
    try:
        app = app_config(args, workdir)
        plain = AppConfig(app.root, workdir)
        if args.conversation:
            # The feature is the conversation alone: both cases signed in alike.
            plain, app = app, replace(app, conversation=True)
        cases.append(_Case("plain", plain, upstream.port, relay_core))
        if app.features or app.conversation:
            cases.append(_Case("with", app, upstream.port, relay_core))
        results = {"meta": describe(app.root)}
        for case in cases:
            await case.start()
            await case.batch(WARMUP_REQUESTS, args.rate, measured=False)
        for round_number in range(1, args.rounds + 1):  # the cases take turns
            for case in cases:
                await case.batch(args.requests, args.rate)
            progress(
                f"round {round_number}/{args.rounds}: "
                + ", ".join(f"{c.name} {c.us_per_request[-1]} µs/request" for c in cases)
            )
    except RuntimeError as error:
        progress(f"the app did not start: {error}")
        return 1
    finally:
        for case in cases:
            await case.server.stop()
        await upstream.close()
        shutil.rmtree(workdir, ignore_errors=True)
    figures = [case.figures() for case in cases]
    if len(figures) == 2:
        figures[1]["added_us_per_request"] = round(
            figures[1]["cpu_us_per_request"] - figures[0]["cpu_us_per_request"], 1
        )
    results.update(
        {
            "params": {
                "requests": args.requests,
                "rounds": args.rounds,
                "rate_per_s": args.rate,
                "app_dir": str(app.root),
                "relay_core": relay_core,
                "harness_core": harness_core,
            },
            "cases": figures,
            "warnings": [core_warning] if core_warning else [],
        }
    )
    write_results(args.out, "request", results, _markdown(results))
    return 1 if any(case.failed for case in cases) else 0


def _markdown(results: dict) -> str:
    params = results["params"]
    out = [
        "# streamchat CPU per request",
        "",
        *header(results),
        f"POST /api/chat, each on a new connection, {params['rate_per_s']:g} per second, "
        f"one-token streams; {params['requests']} requests per batch, {params['rounds']} "
        f"rounds, the cases taking turns. App from `{params['app_dir']}`.",
        "",
        "| case | settings | CPU µs/request (median) | min to max | added | TTFB p50 ms "
        "| requests ok / failed |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in results["cases"]:
        settings = ", ".join(f"`{k}={v}`" for k, v in case["settings"].items()) or "—"
        if case["signed_in"]:
            settings = f"signed in ({case['signed_in']}): {settings}"
        if case.get("conversation"):
            settings += ", turns kept in a conversation"
        low, high = case["cpu_us_per_request_range"]
        added = case.get("added_us_per_request")
        failed = str(case["requests"]["failed"])
        if case["requests"]["failures"]:
            reasons = case["requests"]["failures"].items()
            failed += " (" + ", ".join(f"{k} {v}" for k, v in reasons) + ")"
        out.append(
            f"| {case['case']} | {settings} | {case['cpu_us_per_request']:,.1f} "
            f"| {low:,.1f} to {high:,.1f} | {'—' if added is None else f'{added:+,.1f}'} "
            f"| {case['ttfb_ms']['p50']} | {case['requests']['ok']} / {failed} |"
        )
    out += [
        "",
        "CPU: the app's whole process tree (gunicorn master and worker) over a batch, "
        "divided by its requests. See bench/README.md.",
    ]
    return "\n".join(out) + "\n"
