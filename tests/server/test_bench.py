"""Smoke test of the benchmark: a tiny run of every variant, checked through bench.json.

It checks that the harness measures what it claims (every chunk delivered and counted,
delays and CPU sane, the report files written), not how fast anything is. That its
hand-written HTTP pieces cope with reads split anywhere: tests/unit/test_bench.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.environment import ROOT

N_VALUES = (1, 5)
TOKENS = 20


def test_a_quick_run_measures_every_variant_and_writes_the_report(tmp_path, report):
    out = tmp_path / "results"
    command = [
        sys.executable, "-m", "bench.run", "--quick",
        "--n", ",".join(map(str, N_VALUES)), "--tokens", str(TOKENS), "--interval-ms", "10",
        "--admission-capacity", "3", "--out", str(out),
        # The plot needs the bench extra (requirements-bench.txt), which the test install
        # leaves out; ./scripts/bench draws it.
        "--no-plot",
    ]  # fmt: skip
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert finished.returncode == 0, finished.stderr[-3000:]

    results = json.loads((out / "bench.json").read_text())
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

    markdown = (out / "bench.md").read_text()
    assert "| app | 5 |" in markdown and "Admission" in markdown
    assert not (out / "bench.png").exists()  # --no-plot: nothing needs matplotlib
    report(f"bench smoke run took {results['meta']['total_wall_s']} s")


def test_request_cost_prices_each_layer(report):
    finished = subprocess.run(
        [sys.executable, "-m", "bench.request_cost"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    costs = {}
    for line in finished.stdout.splitlines():
        name, _, rest = line.partition(":")
        costs[name.strip()] = float(rest.split()[0])
    assert set(costs) == {"sdk", "httpx2", "socket"}
    # Each layer adds work on top of the one below; the raw socket is far the cheapest.
    assert costs["sdk"] > costs["httpx2"] > costs["socket"] > 0
    report("request cost ms: " + ", ".join(f"{k} {v}" for k, v in costs.items()))


def test_micro_benchmarks_run_and_report_each_figure(report):
    # A subprocess: bench.micro patches the process with gevent, as a worker is.
    finished = subprocess.run(
        [sys.executable, "-m", "bench.micro"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = finished.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["read"] * 3 + ["write"] * 3 + ["relay"] * 3
    figures = [
        float(word)
        for line in lines
        for word in line.replace(",", " ").split()
        if word.replace(".", "", 1).isdigit()
    ]
    assert len(figures) == 15 and all(0 < f < 1000 for f in figures), lines
    report("micro: " + "; ".join(lines[::3]))
