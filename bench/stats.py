"""Turning per-stream results into the figures the report shows."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

from .loadgen import StreamResult

NS_PER_MS = 1_000_000


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile of already sorted values (None if empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value / NS_PER_MS, 3)


def distribution_ms(values_ns: Iterable[int], points=(50, 99)) -> dict[str, float | None]:
    """p50/p99/max (and ``count``) of nanosecond values, in milliseconds."""
    ordered = sorted(values_ns)
    figures: dict[str, float | None] = {f"p{p}": _ms(percentile(ordered, p)) for p in points}
    figures["max"] = _ms(ordered[-1]) if ordered else None
    figures["count"] = len(ordered)
    return figures


def delays_once_all_open(results: list[StreamResult]) -> list[int]:
    """The relay delays of chunks the upstream emitted after every stream's first one.

    By then every request has been set up, so these show the relay carrying N streams
    without the burst of new requests that the whole-run figure includes.
    """
    firsts = [r.emitted_ns[0] for r in results if r.emitted_ns]
    if not firsts:
        return []
    all_open = max(firsts)
    return [
        delay
        for r in results
        for delay, emitted in zip(r.delays_ns, r.emitted_ns, strict=True)
        if emitted > all_open
    ]


def stream_figures(results: list[StreamResult], tokens: int) -> dict:
    """Outcome counts, chunk counts, TTFB and relay delay over a set of streams."""
    outcomes = Counter(r.outcome(tokens) for r in results)
    ok = outcomes.pop("ok", 0)
    delays = [d for r in results for d in r.delays_ns]
    ttfb = [r.ttfb_ns for r in results if r.ttfb_ns is not None]
    return {
        "streams": {"ok": ok, "failed": len(results) - ok, "failures": dict(outcomes)},
        "chunks": {
            "delivered": sum(r.chunks for r in results),
            "expected": tokens * len(results),
        },
        "error_lines": sum(r.error_lines for r in results),
        "ttfb_ms": distribution_ms(ttfb),
        "relay_delay_ms": distribution_ms(delays),
        "relay_delay_all_open_ms": distribution_ms(delays_once_all_open(results)),
        "negative_delays": sum(1 for d in delays if d < 0),
    }


def admission_figures(results: list[StreamResult], tokens: int) -> dict:
    """Admitted/rejected counts and how fast and how well the rejections came."""
    admitted = [r for r in results if r.status == 200]
    rejected = [r for r in results if r.status == 503]
    other = Counter(
        r.failure or f"status_{r.status}" for r in results if r.status not in (200, 503)
    )
    admitted_figures = stream_figures(admitted, tokens)
    return {
        "streams": len(results),
        "admitted": len(admitted),
        "rejected": len(rejected),
        "other": dict(other),
        "rejection_latency_ms": distribution_ms(r.status_ns - r.sent_ns for r in rejected),
        "all_rejections_have_retry_after": all(r.retry_after for r in rejected),
        "rejection_codes": dict(Counter(r.error_code for r in rejected)),
        "admitted_relay_delay_ms": admitted_figures["relay_delay_ms"],
        "admitted_ok": admitted_figures["streams"]["ok"],
        "admitted_failed": admitted_figures["streams"]["failed"],
        "admitted_failures": admitted_figures["streams"]["failures"],
    }
