"""What a scenario leaves behind: progress on stderr, <scenario>.json and .md (and the
relay's plot) in the output folder, and the markdown tables written from the JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DASH = "—"


def _num(value, digits: int = 1) -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _ratio(numerator, denominator) -> str:
    if not numerator or not denominator:
        return DASH
    return f"{numerator / denominator:.2f}x"


def _pair(figures: dict | None, keys: tuple[str, ...], digits: int = 1) -> str:
    if not figures:
        return DASH
    return " / ".join(_num(figures.get(k), digits) for k in keys)


def _cpu_by(runs: list[dict], variant: str) -> dict[int, float]:
    return {
        r["n"]: r["cpu_us_per_chunk"]
        for r in runs
        if r["variant"] == variant and r.get("cpu_us_per_chunk")
    }


def runs_table(runs: list[dict]) -> list[str]:
    """The main table: one row per variant and N."""
    naive, floor = _cpu_by(runs, "naive"), _cpu_by(runs, "floor")
    wsgi = _cpu_by(runs, "wsgi")
    lines = [
        "| variant | N | CPU µs/chunk | CPU vs naive | CPU vs floor | CPU vs wsgi | RSS KB/stream "
        "| TTFB p50 / p99 ms | relay delay p50 / p99 / max ms "
        "| relay delay once all open p50 / p99 ms | streams ok / failed "
        "| chunks delivered / expected | harness CPU % | others on relay core % "
        "| relay core loop ms | wall s |",
        "| --- " + "| ---: " * 15 + "|",
    ]
    for run in runs:
        if "error" in run:
            lines.append(f"| {run['variant']} | {run['n']} | run failed: {run['error']} |")
            continue
        cpu = run["cpu_us_per_chunk"]
        is_app = run["variant"] == "app"
        streams = run["streams"]
        failed = str(streams["failed"])
        if streams["failures"]:
            failed += " (" + ", ".join(f"{k} {v}" for k, v in streams["failures"].items()) + ")"
        harness = _num(run["harness_cpu_pct"]) + (" ⚠" if run["harness_overloaded"] else "")
        cells = [
            run["variant"],
            str(run["n"]),
            _num(cpu),
            _ratio(cpu, naive.get(run["n"])) if is_app else DASH,
            _ratio(cpu, floor.get(run["n"])) if is_app else DASH,
            _ratio(cpu, wsgi.get(run["n"])) if is_app else DASH,
            _num(run["rss_per_stream_kb"]),
            _pair(run["ttfb_ms"], ("p50", "p99")),
            _pair(run["relay_delay_ms"], ("p50", "p99", "max")),
            _pair(run.get("relay_delay_all_open_ms"), ("p50", "p99")),
            f"{streams['ok']} / {failed}",
            f"{run['chunks']['delivered']:,} / {run['chunks']['expected']:,}",
            harness,
            _num(run.get("relay_core_foreign_cpu_pct")),
            _num(run.get("relay_core_loop_ms")),
            _num(run["wall_s"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def admission_table(admission: dict) -> list[str]:
    """The admission scenario: limit, twice that many streams, what was turned away and how."""
    if admission.get("skipped"):
        return [f"Skipped: {admission['skipped']}."]
    if "error" in admission:
        return [f"Run failed: {admission['error']}"]
    lines = [
        "| MAX_STREAMS_PER_WORKER | streams | admitted | rejected (503) | other "
        "| rejection latency p50 / p99 / max ms | every 503 had Retry-After "
        "| admitted relay delay p50 / p99 ms | admitted failed | harness CPU % |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: |",
    ]
    other = sum(admission["other"].values())
    retry = admission["all_rejections_have_retry_after"] if admission["rejected"] else None
    cells = [
        _num(admission["max_streams_per_worker"]),
        _num(admission["streams"]),
        _num(admission["admitted"]),
        _num(admission["rejected"]),
        _num(other),
        _pair(admission["rejection_latency_ms"], ("p50", "p99", "max"), 2),
        DASH if retry is None else ("yes" if retry else "no"),
        _pair(admission["admitted_relay_delay_ms"], ("p50", "p99")),
        _num(admission["admitted_failed"]),
        _num(admission["harness_cpu_pct"]) + (" ⚠" if admission["harness_overloaded"] else ""),
    ]
    lines.append("| " + " | ".join(cells) + " |")
    if admission["rejected"] == 0:
        lines += ["", "No stream was rejected: this version of the app admits every stream."]
    return lines


def _app_settings_line(params: dict) -> list[str]:
    """What the app ran with (--app-setting, --signed-in), and from where."""
    shown = ", ".join(f"`{name}={value}`" for name, value in params["app_settings"].items())
    signed_in = f" Every stream signed in ({params['signed_in']})." if params["signed_in"] else ""
    ran = f"The app ran from `{params['app_dir']}`" + (f" with {shown}." if shown else ".")
    return [ran + signed_in, ""]


def header(results: dict) -> list[str]:
    """The title line: date, commit, machine, versions."""
    meta = results["meta"]
    commit = (meta.get("git_commit") or "unknown")[:12] + (" (dirty)" if meta["git_dirty"] else "")
    source = f"app source {meta['app_source_at_start']}"
    if meta["app_uncommitted"]:
        source += f" ({len(meta['app_uncommitted'])} app files uncommitted)"
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    return [
        f"{meta['date_utc']} · commit {commit} · {source} · {meta['cpu_model']} · "
        f"{meta['nproc']} cores · Python {meta['python']} · {versions}",
        "",
    ]


def _warnings(results: dict) -> list[str]:
    if not results["warnings"]:
        return []
    return ["", "## Warnings", "", *(f"- {w}" for w in results["warnings"])]


def relay_markdown(results: dict) -> str:
    """The whole of relay.md."""
    params = results["params"]
    out = [
        "# streamchat relay benchmark",
        "",
        *header(results),
        f"Each stream: {params['tokens']} token chunks, one every {params['interval_ms']} ms "
        f"({1000 / params['interval_ms']:.0f} tokens/s), streams started over "
        f"{params['ramp_s']} s. Relay pinned to core {params['relay_core']}, harness "
        f"(fake upstream + load generator) to core {params['harness_core']}. All on 127.0.0.1.",
        "",
        *_app_settings_line(params),
        "## Cost per variant and concurrency",
        "",
        *runs_table(results["runs"]),
        "",
        "CPU: the relay's whole process tree, per token chunk delivered. RSS: peak during the "
        "run above the level before it, per open stream. Relay delay: upstream write → client "
        "read of each chunk. Others on relay core: busy time of the relay's core not spent by "
        "the relay (other processes, interrupts). See bench/README.md.",
        "",
        "## Admission: 2 x MAX_STREAMS_PER_WORKER streams at once",
        "",
        *admission_table(results["admission"]),
        *_warnings(results),
    ]
    return "\n".join(out) + "\n"


def memory_markdown(results: dict) -> str:
    """The whole of memory.md: RSS per open stream, median of the repeats."""
    params = results["params"]
    out = [
        "# streamchat memory per open stream",
        "",
        *header(results),
        f"Each stream: {params['tokens']} token chunks every {params['interval_ms']} ms, "
        f"started over {params['ramp_s']} s; {params['repeat']} runs per row, each on a "
        "fresh server.",
        "",
        *_app_settings_line(params),
        "| variant | N | runs | RSS KB/stream (median) | min to max | RSS before MB | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in results["memory"]:
        low, high = row["rss_per_stream_kb_range"] or (None, None)
        before = row["rss_before_kb"]
        out.append(
            f"| {row['variant']} | {row['n']} | {row['runs']} | {_num(row['rss_per_stream_kb'])} "
            f"| {_num(low)} to {_num(high)} | {_num(before / 1024 if before else None)} "
            f"| {row['streams_failed']} |"
        )
    out += [
        "",
        "RSS per stream: peak summed VmRSS of the server's process tree during the run, "
        "minus its value just before, divided by N. See bench/README.md.",
        *_warnings(results),
    ]
    return "\n".join(out) + "\n"


def progress(text: str) -> None:
    """A line of progress on standard error."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def _write(path: Path, data: bytes) -> None:
    # Written beside and renamed, so a reader never sees half a file.
    partial = path.with_name(path.name + ".tmp")
    partial.write_bytes(data)
    partial.replace(path)


def write_results(out: Path, name: str, results: dict, text: str, plot: bool = False) -> None:
    """<name>.json and <name>.md (and <name>.png with ``plot``) in ``out``; print the md."""
    out.mkdir(parents=True, exist_ok=True)
    _write(out / f"{name}.json", (json.dumps(results, indent=2) + "\n").encode())
    _write(out / f"{name}.md", text.encode())
    if plot:
        from .plot import write_plot  # the bench extra (requirements-bench.txt)

        partial = out / f"{name}.png.tmp"
        write_plot(results, partial)
        partial.replace(out / f"{name}.png")
    print(text)
    progress(f"results in {out}/{name}.json and .md")
