"""Graceful shutdown in one process: the drain ends open streams before the grace runs
out, leaves a margin for the last line, and a draining worker refuses new requests.
SIGTERM to the real server: tests/server/test_shutdown.py."""

from __future__ import annotations

import time

import httpx2
import pytest

from streamchat.worker.open_streams import OpenStreams
from streamchat.worker.shutdown import drain, margin_for
from tests.support.payloads import chat_body


class FakeStream:
    def __init__(self, readers: int = 1) -> None:
        self.ended = False
        self.readers = readers

    def end_for_shutdown(self) -> None:
        self.ended = True


def test_drain_refuses_new_streams_at_once_and_ends_open_ones_before_the_grace():
    streams = OpenStreams()
    stays, leaves = FakeStream(), FakeStream()
    assert streams.reserve(10) and streams.reserve(10)
    streams.add(stays)
    streams.add(leaves)
    streams.discard(leaves)
    start = time.monotonic()
    drain(streams, grace=1.2)
    assert streams.draining
    assert stays.ended and not leaves.ended
    assert 0.1 <= time.monotonic() - start <= 1.2 - margin_for(1.2) + 0.2


def test_drain_ends_a_stream_nobody_reads_at_once():
    # A run in its grace period holds no connection: gunicorn would stop the worker
    # before it settled. The drain ends it first thing.
    streams = OpenStreams()
    unread, read = FakeStream(readers=0), FakeStream(readers=1)
    for stream in (unread, read):
        assert streams.reserve(10)
        streams.add(stream)
    seen = []
    streams.end_all = lambda: seen.append((unread.ended, read.ended)) or 1
    drain(streams, grace=1.2)
    assert seen == [(True, False)]  # ended before the wait; the read one only at its end


def test_a_stream_that_opens_after_the_drain_ended_the_others_is_ended_too():
    streams = OpenStreams()
    early, late = FakeStream(), FakeStream()
    assert streams.reserve(10) and streams.reserve(10)
    streams.add(early)
    assert streams.end_all() == 1
    streams.add(late)  # its upstream opened only now
    assert early.ended and late.ended


@pytest.mark.parametrize(("grace", "margin"), [(4, 1), (30, 3), (90, 5), (600, 5)])
def test_margin_leaves_time_to_write_the_last_line(grace, margin):
    assert margin_for(grace) == margin


def test_a_draining_worker_answers_new_requests_503(make_app):
    app = make_app(lambda request: httpx2.Response(500))
    app.extensions["streamchat"].streams.draining = True
    response = app.test_client().post("/api/chat", json=chat_body("x"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["error"]["code"] == "server_shutting_down"
    assert app.transport.requests == []
