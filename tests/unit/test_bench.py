"""The benchmark's own pieces in one process: the one entry picks the scenario, its
hand-written HTTP parts cope with reads split anywhere, and its statistics count what
they claim. Tiny runs of the scenarios: tests/server/test_bench.py.
"""

from __future__ import annotations

import asyncio
import random

from bench.__main__ import parse_args
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


def test_no_scenario_named_means_relay():
    assert parse_args([]).scenario == "relay"
    quick = parse_args(["--quick"])
    assert (quick.scenario, quick.n, quick.tokens) == ("relay", [1, 20], 40)
    assert parse_args(["relay"]).n == [1, 100, 200, 500]
    memory = parse_args(["memory"])
    assert (memory.variants, memory.n, memory.repeat) == (["app"], [200], 3)
