"""Prometheus metrics in one process: tokens counted from the reported usage, or estimated
when a stream reports none. Through gunicorn's workers: tests/server/test_metrics.py."""

from __future__ import annotations

from tests.support.metrics import AUTH, TOKEN, sample
from tests.support.payloads import CHAT


def test_tokens_are_counted_from_the_reported_usage(make_app):
    app = make_app(OPENAI_API_KEY="", DEMO_TOKENS_PER_SECOND="5000", METRICS_TOKEN=TOKEN)
    client = app.test_client()
    before = client.get("/metrics", headers=AUTH).data.decode()
    client.post("/api/chat", json=CHAT).get_data()
    after = client.get("/metrics", headers=AUTH).data.decode()
    for kind in ("prompt", "completion"):
        name = f'streamchat_tokens_total{{kind="{kind}"}}'
        assert sample(after, name) > sample(before, name)
    reported = 'streamchat_tokens_counted_total{source="reported"}'
    assert sample(after, reported) - sample(before, reported) > 0


def test_a_stream_without_usage_counts_estimated_tokens(make_app):
    app = make_app(
        OPENAI_API_KEY="",
        DEMO_TOKENS_PER_SECOND="5000",
        METRICS_TOKEN=TOKEN,
        OPENAI_STREAM_USAGE="false",  # the demo model then reports none
    )
    client = app.test_client()
    name = 'streamchat_tokens_counted_total{source="estimated"}'
    before = sample(client.get("/metrics", headers=AUTH).data.decode(), name)
    lines = client.post("/api/chat", json=CHAT).get_data().count(b"\n")
    after = sample(client.get("/metrics", headers=AUTH).data.decode(), name)
    assert after - before > lines  # the relayed lines, and the input's estimate
