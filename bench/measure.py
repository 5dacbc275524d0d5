"""One measured run: a fresh relay server, a warm-up, then N streams under /proc sampling.

The relay and memory scenarios (bench/sweep.py) are sequences of these.
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from .appconfig import AppConfig
from .environment import app_source_fingerprint
from .loadgen import StreamResult, run_streams
from .procstat import RssSampler, core_busy_us, cpu_ns, cpu_ticks_us, process_tree
from .servers import RelayServer, free_port, launch_for
from .stats import admission_figures, stream_figures
from .upstream import FakeUpstream

WARMUP_TOKENS = 10
WARMUP_STREAMS = 50
# Past this share of its core the harness itself may be what delays chunks.
HARNESS_CPU_WARN_PCT = 85.0
# Past this share of the relay's core used by other processes, its figures are disturbed.
FOREIGN_CPU_WARN_PCT = 10.0
# Every run is bounded: the streams' own length plus this much slack.
SLACK_S = 30.0


@dataclass
class Harness:
    """What all runs share: the fake upstream, the relay's core, where logs go, and how
    the app variant is started (its tree, settings, sign-in)."""

    upstream: FakeUpstream
    relay_core: int
    log_dir: Path
    interval_ms: int
    ramp_s: float
    app: AppConfig
    # Streams of the warm-up before each measured run (at most N, and within the limit).
    warmup_streams: int = WARMUP_STREAMS


def _harness_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measured_streams(
    harness: Harness,
    server: RelayServer,
    n: int,
    tokens: int,
    max_streams: int,
    headers: dict[str, str],
) -> tuple[list[StreamResult], dict, list[str]]:
    """Run ``n`` streams of ``tokens`` against a ready server, sampling its process tree.

    Returns the streams' results, the run's measures and warnings about the run.
    """
    upstream = harness.upstream
    upstream.tokens = WARMUP_TOKENS
    # Within the admission limit, so the warm-up itself is never turned away.
    warm_n = min(n, harness.warmup_streams, max_streams)
    warm, _ = await run_streams(server.port, warm_n, 0.0, SLACK_S, headers)
    warm_ok = sum(r.ok(WARMUP_TOKENS) for r in warm)
    await asyncio.sleep(0.3)  # let the warm-up's connections close and logs flush

    pids = process_tree(server.pid)
    upstream.tokens = tokens
    time_limit = harness.ramp_s + tokens * harness.interval_ms / 1000 + SLACK_S
    sampler = RssSampler(pids)
    rss_before = sampler.peak_kb  # its first sample: the level before the run
    sampler.start()
    counters_before = upstream.counters()
    harness_before, cpu_before, ticks_before = _harness_cpu_s(), cpu_ns(pids), cpu_ticks_us(pids)
    core_before = core_busy_us(harness.relay_core)
    ramp_s = harness.ramp_s if n > 1 else 0.0
    results, wall = await run_streams(server.port, n, ramp_s, time_limit, headers)
    cpu_after, ticks_after, harness_after = cpu_ns(pids), cpu_ticks_us(pids), _harness_cpu_s()
    core_after = core_busy_us(harness.relay_core)
    rss_peak = await sampler.stop()
    counters = {k: v - counters_before[k] for k, v in upstream.counters().items()}
    pids_after = process_tree(server.pid)

    harness_pct = 100.0 * (harness_after - harness_before) / wall if wall > 0 else 0.0
    cpu_us = (cpu_after - cpu_before) / 1000
    # Busy time of the relay's core not spent by the relay: other processes, interrupts.
    foreign_pct = 100.0 * max(0.0, core_after - core_before - cpu_us) / 1e6 / wall if wall else 0.0
    figures = stream_figures(results, tokens)
    delivered = figures["chunks"]["delivered"]
    measures = {
        "wall_s": round(wall, 3),
        "cpu_us_total": round(cpu_us, 1),
        "cpu_us_per_chunk": round(cpu_us / delivered, 2) if delivered else None,
        "cpu_ticks_us_total": round(ticks_after - ticks_before, 1),
        "rss_before_kb": rss_before,
        "rss_peak_kb": rss_peak,
        "rss_samples": sampler.samples,
        "rss_per_stream_kb": round((rss_peak - rss_before) / n, 1),
        "harness_cpu_pct": round(harness_pct, 1),
        "harness_overloaded": harness_pct > HARNESS_CPU_WARN_PCT,
        "relay_core_foreign_cpu_pct": round(foreign_pct, 1),
        "warmup": {"streams": len(warm), "ok": warm_ok, "tokens": WARMUP_TOKENS},
        "upstream": counters,
        "pids": pids,
        **figures,
    }
    warnings = []
    if sorted(pids_after) != sorted(pids):
        warnings.append(
            f"{server.variant} N={n}: process tree changed during the run "
            f"({sorted(pids)} → {sorted(pids_after)}); a worker may have died"
        )
    if warm_ok < len(warm):
        warnings.append(f"{server.variant} N={n}: {len(warm) - warm_ok} warm-up failed")
    if disturbed(measures):
        warnings.append(
            f"{server.variant} N={n}: other processes used {foreign_pct:.0f} % of the relay's "
            "core during the run: its figures are disturbed"
        )
    if measures["harness_overloaded"]:
        warnings.append(
            f"{server.variant} N={n}: harness CPU {harness_pct:.0f} % > "
            f"{HARNESS_CPU_WARN_PCT:.0f} %: its delays and TTFB are suspect"
        )
    return results, measures, warnings


def disturbed(run: dict) -> bool:
    """Whether other processes took enough of the relay's core to skew the run's figures."""
    return run.get("relay_core_foreign_cpu_pct", 0.0) > FOREIGN_CPU_WARN_PCT


async def measure(
    harness: Harness, variant: str, n: int, tokens: int, max_streams: int, admission: bool = False
) -> dict:
    """Start a fresh ``variant`` server, measure ``n`` streams, stop it; the run's figures.

    With ``admission`` the figures are the admission scenario's (admitted, rejected...).
    A run that cannot be done (the server does not start) returns an ``error`` instead.
    Anything that makes the figures doubtful is listed in the run's ``warnings``.
    """
    port = free_port()
    app = harness.app
    launch = launch_for(variant, port, harness.upstream.port, max_streams, app.root)
    if variant == "app":
        launch.env.update(app.env())
    log_path = harness.log_dir / f"{variant}-{n}{'-admission' if admission else ''}.log"
    server = RelayServer(variant, launch, port, harness.relay_core, log_path)
    run: dict = {"variant": variant, "n": n, "tokens": tokens, "interval_ms": harness.interval_ms}
    if variant == "app":
        run["max_streams_per_worker"] = max_streams
        run["app_source"] = app_source_fingerprint(app.root)
        run["app_settings"] = app.shown()  # which settings, never a secret's value
    started = time.monotonic()
    try:
        server.start()
        await server.wait_ready()
        headers = await app.headers(port) if variant == "app" else {}
        results, measures, run["warnings"] = await _measured_streams(
            harness, server, n, tokens, max_streams, headers
        )
        if admission:
            run.update(admission_figures(results, tokens))
            keep = (
                "wall_s",
                "harness_cpu_pct",
                "harness_overloaded",
                "relay_core_foreign_cpu_pct",
                "cpu_us_total",
            )
            run.update({k: measures[k] for k in keep})
        else:
            run.update(measures)
    except Exception as error:  # reported in the results; the other runs go on
        run["error"] = f"{type(error).__name__}: {error}"
        run["log_tail"] = server.log_tail()
        run["warnings"] = [f"{variant} N={n}: run failed: {run['error']}"]
    finally:
        await server.stop()
    run["run_s"] = round(time.monotonic() - started, 1)
    return run
