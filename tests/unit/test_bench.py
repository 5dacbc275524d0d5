"""The benchmark's own pieces in one process: its hand-written HTTP parts cope with reads
split anywhere, and its statistics and profile grouping count what they claim. A tiny
run of the whole benchmark: tests/server/test_bench.py.
"""

from __future__ import annotations

import asyncio
import random

from bench.floor import NdjsonFromSse
from bench.http1 import LAST_CHUNK, ChunkedDecoder, frame_chunk
from bench.loadgen import StreamResult, _StreamClient
from bench.stats import delays_once_all_open


def _split_everywhere(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut into reads of 1 to 7 bytes, so every boundary lands somewhere odd."""
    rng = random.Random(seed)
    pieces, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 7)
        pieces.append(data[pos : pos + step])
        pos += step
    return pieces


def test_chunked_decoder_and_floor_survive_any_read_boundaries():
    events = [b'data: {"n":%d,"text":"x"}\n\n' % i for i in range(30)] + [b"data: [DONE]\n\n"]
    body = b"".join(frame_chunk(e) for e in events) + LAST_CHUNK
    for seed in range(20):
        decoder = ChunkedDecoder()
        decoded = b"".join(decoder.feed(piece) for piece in _split_everywhere(body, seed))
        assert decoder.done and decoded == b"".join(events)
        ndjson = NdjsonFromSse()
        lines = b"".join(ndjson.feed(p) for p in _split_everywhere(decoded, seed + 100))
        assert lines == b"".join(b'{"n":%d,"text":"x"}\n' % i for i in range(30))


def test_load_generator_counts_stamps_split_across_reads():
    lines = [b'{"system_fingerprint":"t%d","choices":[]}\n' % (10**15 + i) for i in range(40)]
    lines.append(b'{"system_fingerprint":"s%d","choices":[{"finish_reason":"stop"}]}\n' % 10**15)
    body = b"".join(frame_chunk(line) for line in lines) + LAST_CHUNK
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    for seed in range(20):
        result = StreamResult(0)
        loop = asyncio.new_event_loop()
        try:
            client = _StreamClient(result, b"", loop.create_future())
            for piece in _split_everywhere(reply, seed):
                client.data_received(piece)
        finally:
            loop.close()
        assert result.ok(40), result
        assert len(result.delays_ns) == 41
        assert result.emitted_ns == [10**15 + i for i in range(40)] + [10**15]


def test_delays_once_all_open_leave_out_the_start_up():
    early = StreamResult(0, delays_ns=[50, 5, 6, 7], emitted_ns=[100, 200, 300, 400])
    late = StreamResult(1, delays_ns=[90, 8, 9], emitted_ns=[250, 350, 450])
    empty = StreamResult(2)  # never got a chunk: no first emission to wait for
    # The last stream's first chunk was emitted at 250: only later chunks count.
    assert sorted(delays_once_all_open([early, late, empty])) == [6, 7, 8, 9]
    assert delays_once_all_open([empty]) == []


def test_profile_groups_counts_every_sample_once():
    from bench.profile_groups import group

    lines = [
        "run (hub.py:1);Hub.run (gevent/hub.py:647) 5\n",
        "handle (x.py:1);Flask.__call__ (flask/app.py:1);SocketMixin.recv (s.py:2) 3\n",
        "handle (x.py:1);relay (relay.py:9);_body (d.py:1);SocketMixin.recv (s.py:2) 2\n",
        "handle (x.py:1);write_chunk (util.py:342) 4\n",
        "handle (x.py:1);relay (relay.py:9) 1\n",
        "handle (x.py:1);something_else (y.py:1) 1\n",
    ]
    shares, total = group(lines)
    assert total == 16 and sum(shares.values()) == 16
    assert shares["gevent hub: epoll, libev callbacks, greenlet switches"] == 5
    # A recv inside Flask's request handling is per-request work, not the per-chunk read.
    assert shares["per request: HTTP parse, Flask, SDK request and pool, connect, log line"] == 3
    assert shares["upstream read: gevent recv"] == 2
    assert shares["client write: chunk framing, gevent sendall, send()"] == 4
    assert shares["relay: framing, SSE to NDJSON, checks, generator hops"] == 1
    assert shares["other"] == 1
