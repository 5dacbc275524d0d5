"""The metrics streamchat keeps: counted once per stream or refusal, never per chunk.

The names are fixed so dashboards can rely on them (docs/operating.md, "Monitoring"). Labels hold
only our own small sets of values (route, outcome, error code, token kind): never
message content, user names or keys.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_TTFB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_DURATION_BUCKETS = (0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class StreamMetrics:
    """One process's collectors; ``stream_metrics()`` builds them once per process."""

    def __init__(self) -> None:
        self.streams = Counter(
            "streamchat_streams_total", "Streams relayed, by how they ended.", ["route", "outcome"]
        )
        # livesum: the open streams of every live worker, added up at scrape time.
        self.open = Gauge(
            "streamchat_streams_open", "Streams open now.", multiprocess_mode="livesum"
        )
        self.ttfb = Histogram(
            "streamchat_time_to_first_byte_seconds",
            "From the request to the first line of the reply.",
            buckets=_TTFB_BUCKETS,
        )
        self.duration = Histogram(
            "streamchat_stream_duration_seconds",
            "From the request to the end of the stream.",
            buckets=_DURATION_BUCKETS,
        )
        self.tokens = Counter(
            "streamchat_tokens_total", "Tokens the upstream reported, by kind.", ["kind"]
        )
        self.counted = Counter(
            "streamchat_tokens_counted_total",
            "Tokens streams counted when they ended (what budgets charge), by whether the "
            "upstream reported them or they were estimated.",
            ["source"],
        )
        self.rejected = Counter(
            "streamchat_requests_rejected_total",
            "API requests answered with an error before any stream, by error code.",
            ["code"],
        )

    def stream_opened(self) -> None:
        """A stream has started."""
        self.open.inc()

    def stream_ended(
        self, route: str, outcome: str, ttfb: float | None, duration: float, usage: dict | None
    ) -> None:
        """A stream has ended, however it ended: count it, its timings and its tokens."""
        self.open.dec()
        self.streams.labels(route, outcome).inc()
        if ttfb is not None:
            self.ttfb.observe(ttfb)
        self.duration.observe(duration)
        if usage:
            prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
            completion = usage.get("completion_tokens", usage.get("output_tokens"))
            if prompt:
                self.tokens.labels("prompt").inc(prompt)
            if completion:
                self.tokens.labels("completion").inc(completion)

    def tokens_counted(self, tokens: int, source: str) -> None:
        """What an ended stream counted: ``source`` is "reported" or "estimated"."""
        self.counted.labels(source).inc(tokens)

    def request_rejected(self, code: str) -> None:
        """An API request got an error answer (busy, rate-limited, invalid...)."""
        self.rejected.labels(code).inc()


_built: StreamMetrics | None = None


def stream_metrics() -> StreamMetrics:
    """This process's collectors (the registry allows each name once per process)."""
    global _built
    if _built is None:
        _built = StreamMetrics()
    return _built
