"""bench.png: CPU per chunk and relay delay p99 against concurrency, one line per variant."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here; must precede pyplot's import

import matplotlib.pyplot as plt

# Past this ratio between the largest and smallest value a linear axis hides the floor.
_LOG_RATIO = 20


def _series(runs: list[dict], key: tuple[str, ...]) -> dict[str, tuple[list, list]]:
    lines: dict[str, tuple[list, list]] = {}
    for run in runs:
        value = run
        for part in key:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None or "error" in run:
            continue
        xs, ys = lines.setdefault(run["variant"], ([], []))
        xs.append(run["n"])
        ys.append(value)
    return lines


def _panel(axis, lines: dict, title: str, ylabel: str, ns: list[int]) -> None:
    values = [y for _, ys in lines.values() for y in ys if y and y > 0]
    for variant, (xs, ys) in sorted(lines.items()):
        axis.plot(xs, ys, marker="o", label=variant)
    axis.set_title(title)
    axis.set_xlabel("concurrent streams (N)")
    axis.set_ylabel(ylabel)
    if len(ns) > 1 and min(ns) > 0 and max(ns) / min(ns) >= 10:
        axis.set_xscale("log")
    axis.set_xticks(ns, [str(n) for n in ns])
    if values and max(values) / min(values) > _LOG_RATIO:
        axis.set_yscale("log")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()


def write_plot(results: dict, path: Path) -> None:
    """Draw the two panels from relay.json's ``runs`` into ``path`` (PNG)."""
    runs = results["runs"]
    ns = sorted({run["n"] for run in runs})
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    _panel(left, _series(runs, ("cpu_us_per_chunk",)), "Relay CPU per chunk", "µs / chunk", ns)
    _panel(
        right,
        _series(runs, ("relay_delay_ms", "p99")),
        "Relay delay p99 (upstream write → client read)",
        "ms",
        ns,
    )
    params = results["params"]
    figure.suptitle(
        f"streamchat relay benchmark: {params['tokens']} tokens/stream every "
        f"{params['interval_ms']} ms, relay pinned to one core",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110, format="png")
    plt.close(figure)
