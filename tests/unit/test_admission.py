"""Admission control's bookkeeping (MAX_STREAMS_PER_WORKER) in one process: places are
held from before the upstream opens. Through the real server: tests/server/test_admission.py."""

from __future__ import annotations

from streamchat.worker.open_streams import OpenStreams


def test_places_are_reserved_before_the_upstream_opens_and_given_back():
    streams = OpenStreams()
    assert streams.reserve(2) and streams.reserve(2)
    assert not streams.reserve(2)  # two requests still connecting already fill it
    streams.unreserve()  # one failed to open
    assert streams.reserve(2)
    first, second = object(), object()
    streams.add(first)
    streams.add(second)
    assert len(streams) == 2 and not streams.reserve(2)
    streams.discard(first)
    streams.discard(first)  # twice is harmless
    assert len(streams) == 1 and streams.reserve(2)
