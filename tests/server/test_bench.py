"""Tiny runs of the benchmark's scenarios, checked through their JSON: the harness
measures what it claims (every chunk and request delivered and counted, delays and CPU
sane, the reports written), not how fast anything is. Its pieces in one process:
tests/unit/test_bench.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from bench.instructions import _one_stream
from bench.procstat import process_tree
from bench.servers import RelayServer, free_port, launch_for
from bench.upstream import LockstepUpstream
from tests.support.environment import ROOT

N_VALUES = (1, 5)
TOKENS = 20


def _bench(*args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.timeout(180)  # a disturbed run is run again: slow on a busy machine
def test_a_quick_relay_run_measures_every_variant_and_writes_the_report(tmp_path, report):
    out = tmp_path / "results"
    command = [
        "relay", "--quick",
        "--n", ",".join(map(str, N_VALUES)), "--tokens", str(TOKENS), "--interval-ms", "10",
        "--admission-capacity", "3", "--out", str(out),
        # The plot needs the bench extra (requirements-bench.txt), which the test install
        # leaves out; ./scripts/bench draws it.
        "--no-plot",
    ]  # fmt: skip
    finished = _bench(*command)
    assert finished.returncode == 0, finished.stderr[-3000:]

    results = json.loads((out / "relay.json").read_text())
    runs = {(run["variant"], run["n"]): run for run in results["runs"]}
    assert set(runs) == {(v, n) for v in ("app", "naive", "floor", "wsgi") for n in N_VALUES}
    for (variant, n), run in runs.items():
        where = f"{variant} N={n}"
        assert "error" not in run, (where, run.get("error"), run.get("log_tail"))
        assert run["streams"] == {"ok": n, "failed": 0, "failures": {}}, where
        assert run["chunks"]["delivered"] == run["chunks"]["expected"] == n * TOKENS, where
        delays = run["relay_delay_ms"]
        assert delays["count"] == n * (TOKENS + 1), where  # the finish chunk is timed too
        assert all(isinstance(delays[k], float) and delays[k] >= 0 for k in ("p50", "p99")), where
        assert run["negative_delays"] == 0, where
        all_open = run["relay_delay_all_open_ms"]["count"]
        assert 0 < all_open < delays["count"] if n > 1 else all_open == TOKENS, where
        assert run["cpu_us_per_chunk"] > 0, where
    assert results.get("admission"), "admission section missing"

    markdown = (out / "relay.md").read_text()
    assert "| app | 5 |" in markdown and "Admission" in markdown
    assert not (out / "relay.png").exists()  # --no-plot: nothing needs matplotlib
    report(f"bench smoke run took {results['meta']['total_wall_s']} s")


def test_memory_scenario_reports_rss_per_open_stream(tmp_path, report):
    out = tmp_path / "results"
    finished = _bench(
        "memory", "--quick", "--n", "5", "--tokens", "20", "--interval-ms", "10",
        "--out", str(out),
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    results = json.loads((out / "memory.json").read_text())
    [row] = results["memory"]
    assert (row["variant"], row["n"], row["runs"], row["streams_failed"]) == ("app", 5, 1, 0)
    assert row["rss_before_kb"] > 0 and row["rss_per_stream_kb"] is not None
    assert "| app | 5 | 1 |" in (out / "memory.md").read_text()
    report(f"memory: {row['rss_per_stream_kb']} KB per open stream at N=5")


def test_request_scenario_prices_a_feature_against_the_plain_app(tmp_path, report):
    out = tmp_path / "results"
    finished = _bench(
        "request", "--requests", "10", "--rounds", "2", "--rate", "50", "--signed-in",
        "--out", str(out),
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    results = json.loads((out / "request.json").read_text())
    plain, signed_in = results["cases"]
    assert (plain["case"], signed_in["case"], signed_in["signed_in"]) == ("plain", "with", "token")
    for case in (plain, signed_in):
        # Signed in, every request got through the sign-in gate: a 401 would fail it.
        assert case["requests"] == {"ok": 20, "failed": 0, "failures": {}}, case
        assert len(case["cpu_us_per_request_rounds"]) == 2
        assert case["cpu_us_per_request"] > 0
    # The secrets made for the run are named, never written down.
    assert signed_in["settings"]["API_TOKENS"] == signed_in["settings"]["SECRET_KEY"] == "<set>"
    assert "added_us_per_request" in signed_in
    assert "| with | signed in (token)" in (out / "request.md").read_text()
    added = signed_in["added_us_per_request"]
    report(f"request: plain {plain['cpu_us_per_request']} µs, signed in {added:+} µs")


def test_instructions_scenario_says_so_when_valgrind_is_missing(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "instructions", "--out", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PATH": str(tmp_path)},  # no valgrind there
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2
    assert "valgrind is not installed" in finished.stderr
    assert not (tmp_path / "instructions.json").exists()


def test_instructions_stream_moves_in_lockstep_through_the_app(tmp_path):
    """Each chunk goes out only after the client read the one before: the app relays
    every one, and the upstream sends exactly the stream it was asked for."""

    async def stream() -> LockstepUpstream:
        upstream = LockstepUpstream()
        await upstream.start()
        port = free_port()
        launch = launch_for("app", port, upstream.port, 10)
        launch.env["SQLITE_PATH"] = str(tmp_path / "machine.sqlite3")  # not the tree's
        server = RelayServer("app", launch, port, os.sched_getaffinity(0).pop(), tmp_path / "log")
        try:
            server.start()
            await server.wait_ready()
            [worker] = [pid for pid in process_tree(server.pid) if pid != server.pid]
            await _one_stream(port, {}, upstream, 30, worker)  # raises unless 31 lines came
        finally:
            await server.stop()
            await upstream.close()
        return upstream

    upstream = asyncio.run(stream())
    # Every token, then the finish, and the stream over: nothing more, nothing less.
    assert (upstream.started, upstream.completed, upstream.streaming) == (1, 1, None)
