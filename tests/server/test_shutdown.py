"""Graceful shutdown: SIGTERM to the real gunicorn server in the middle of streams. The
drain itself, in one process: tests/unit/test_shutdown.py."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx2

from streamchat.worker.shutdown import margin_for
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import chat_body, reply_payloads
from tests.support.waiting import wait_for

GRACE = 4.0
SHORT = reply_payloads("chatcmpl-short", [f"s{i} " for i in range(8)])
LONG = reply_payloads("chatcmpl-long", [f"l{i} " for i in range(300)])


def read_stream(url: str, model: str, out: dict) -> None:
    lines, times = [], []
    body = chat_body("hi", model)
    try:
        with httpx2.Client(timeout=30) as http, http.stream("POST", url, json=body) as r:
            out["status"] = r.status_code
            for line in r.iter_lines():
                lines.append(line)
                times.append(time.monotonic())
    except httpx2.HTTPError as exc:
        out["exception"] = exc
    out["lines"], out["times"] = lines, times


def test_sigterm_lets_short_streams_finish_and_ends_long_ones_with_an_error_line():
    with FakeUpstream() as upstream:
        upstream.scripts = {
            "short": Script(payloads=SHORT, interval=0.15),  # ~1.4 s
            "long": Script(payloads=LONG, interval=0.1),  # ~30 s: longer than the grace
        }
        server = start_gunicorn_against(
            upstream.base_url,
            OPENAI_MODEL="short",
            OPENAI_MODELS="long",
            GRACEFUL_TIMEOUT=str(int(GRACE)),
        )
        url = server.url + "/api/chat"
        long_out, short_out = {}, {}
        readers = [
            threading.Thread(target=read_stream, args=(url, "long", long_out)),
            threading.Thread(target=read_stream, args=(url, "short", short_out)),
        ]
        for reader in readers:
            reader.start()
        assert wait_for(
            lambda: len(upstream.records) == 2 and all(r.events_sent for r in upstream.records)
        )

        terminated = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.5)  # the worker notices within its 1 s loop and stops accepting
        try:
            late = httpx2.post(url, json=chat_body("x"), timeout=3)
            late_status = late.status_code
        except httpx2.HTTPError:
            late_status = None  # refused or never answered: also "no new stream"
        for reader in readers:
            reader.join(GRACE + 10)
        exit_code = server.process.wait(GRACE + 5)
        exited = time.monotonic()
        server.stop()

    # The short reply finished normally after SIGTERM.
    assert short_out["status"] == 200
    short_lines = [line for line in short_out["lines"] if line]
    assert short_lines == [p.decode() for p in SHORT]
    assert short_out["times"][-1] > terminated

    # The long one got lines after SIGTERM, then our error line before the grace ran out.
    long_lines = [line for line in long_out["lines"] if line]
    last = json.loads(long_lines[-1])
    assert last["error"]["code"] == "server_shutting_down", last
    assert last["id"] == "chatcmpl-long"
    ended = long_out["times"][-1] - terminated
    assert GRACE - margin_for(GRACE) - 0.5 < ended < GRACE, ended
    assert long_lines[:-1] == [p.decode() for p in LONG[: len(long_lines) - 1]]
    long_record = next(r for r in upstream.records if r.request["model"] == "long")
    assert long_record.peer_closed is not None  # and its upstream was closed

    assert late_status != 200
    assert exit_code == 0
    assert exited - terminated < GRACE + 2
