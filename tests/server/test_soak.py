"""Soak: 200 concurrent clients for 30 s against one gevent worker, with 20 % of upstream
replies faulty and 20 % of clients leaving mid-stream. Every client that stays gets a
finished reply or an error line; afterwards nothing is left open and memory is flat."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import PROBE_APP, start_gunicorn_against
from tests.support.payloads import chat_body, reply_payloads
from tests.support.processes import status_kb
from tests.support.waiting import run_threads, wait_for

CLIENTS = 200
SOAK_SECONDS = 30.0
WARM_UP_ROUND_SECONDS = 5.0
WORDS = [f"w{i} " for i in range(12)]
PAYLOADS = reply_payloads("chatcmpl-soak", WORDS)

# Model name -> how the fake upstream answers. Clients pick faults 20 % of the time.
SCRIPTS = {
    "ok": Script(payloads=PAYLOADS, interval=0.08),
    "reset": Script(payloads=PAYLOADS, interval=0.08, reset_after=5),
    "malformed": Script(payloads=[*PAYLOADS[:4], b'{"id":"chatcmpl-soak","cho', *PAYLOADS[4:]]),
    "error-event": Script(payloads=[*PAYLOADS[:4], b'{"error":{"message":"overloaded"}}']),
    "stall": Script(payloads=PAYLOADS, interval=0.08, pauses={6: 30}),
}
FAULTS = ["reset", "malformed", "error-event", "stall"]


class Tally:
    """Outcomes across all client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []

    def add(self, outcome: str, problem: str | None = None) -> None:
        with self.lock:
            self.counts[outcome] += 1
            if problem and len(self.problems) < 20:
                self.problems.append(problem)


def one_stream(port: int, model: str, leave_after: int | None) -> tuple[str, str | None]:
    """Run one stream; return (outcome, problem or None)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        body = json.dumps(chat_body("soak", model))
        connection.request("POST", "/api/chat", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            return "bad-status", f"{model}: HTTP {response.status}"
        finished, errored, data_lines = False, False, 0
        while line := response.readline():
            if not line.strip():
                continue  # heartbeat
            data_lines += 1
            chunk = json.loads(line)
            if chunk.get("error"):
                errored = True
            elif any(c.get("finish_reason") for c in chunk.get("choices", [])):
                finished = True
            if leave_after is not None and data_lines >= leave_after:
                return "left", None
        if model == "ok":
            return ("finished", None) if finished and not errored else ("bad", f"ok ended {line!r}")
        return ("error-line", None) if errored else ("bad", f"{model}: no error line")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return "bad", f"{model}: {exc!r}"
    finally:
        connection.close()


def run_clients(port: int, seconds: float, tally: Tally, seed: int) -> None:
    """CLIENTS threads, each streaming back to back until ``seconds`` have passed."""
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        while time.monotonic() < deadline:
            model = rng.choice(FAULTS) if rng.random() < 0.2 else "ok"
            leave_after = rng.randint(1, 6) if rng.random() < 0.2 else None
            tally.add(model if model != "ok" else "ok-asked")
            outcome, problem = one_stream(port, model, leave_after)
            tally.add(outcome, problem)

    run_threads(client, [(i,) for i in range(CLIENTS)], seconds + 60)  # fails if one hangs


@pytest.mark.timeout(300)
def test_soak_two_hundred_streams_with_faults_and_departures(report):
    with FakeUpstream() as upstream:
        upstream.scripts = SCRIPTS
        server = start_gunicorn_against(
            upstream.base_url,
            PROBE_APP,
            OPENAI_MODEL="ok",
            OPENAI_MODELS=",".join(SCRIPTS),
            UPSTREAM_READ_TIMEOUT_SECONDS="2",
            HEARTBEAT_SECONDS="1",
            # 200 clients on one worker: above the default limit on purpose, since this
            # is about faults and leaks (tests/server/test_admission.py covers the limit).
            MAX_STREAMS_PER_WORKER="400",
            # Ended replies are kept for resumes; here they would be counted as growth.
            RUN_KEEP_SECONDS="1",
        )
        try:
            # Warm up under the same load until the worker's memory stops growing, so that
            # "where it began" is its steady state, not first-use growth (the allocator's
            # high-water mark for 200 streams is reached after 10-40 s, varying run to run).
            pid = httpx2.get(server.url + "/_probe", timeout=10).json()["pid"]
            warm_rounds, previous = 0, status_kb(pid)
            while warm_rounds < 8:
                warm_rounds += 1
                run_clients(server.port, WARM_UP_ROUND_SECONDS, Tally(), seed=100 + warm_rounds)
                assert wait_for(lambda: upstream.open_streams() == 0, 10)
                current = status_kb(pid)
                if current <= previous * 1.02:
                    break
                previous = current
            probe = httpx2.get(server.url + "/_probe", timeout=10).json()
            rss_before = status_kb(probe["pid"])

            tally = Tally()
            started = len(upstream.records)
            run_clients(server.port, SOAK_SECONDS, tally, seed=2)
            streams = len(upstream.records) - started

            drained = wait_for(lambda: upstream.open_streams() == 0, 5)

            # Greenlets of connections still closing come and go: wait for them to settle.
            def settled() -> dict | None:
                now = httpx2.get(server.url + "/_probe", timeout=10).json()
                return now if now["greenlets"] <= probe["greenlets"] else None

            after = wait_for(settled, 10) or httpx2.get(server.url + "/_probe", timeout=10).json()
            rss_after = status_kb(probe["pid"])
        finally:
            server.stop()

    counts = tally.counts
    faults = sum(counts[f] for f in FAULTS)
    leaks = upstream.open_streams() + max(0, after["greenlets"] - probe["greenlets"])
    report(
        f"soak: warm-up {warm_rounds} x {WARM_UP_ROUND_SECONDS:.0f}s; "
        f"{streams} upstream streams in {SOAK_SECONDS:.0f}s by {CLIENTS} clients; "
        f"faults injected {faults} ({', '.join(f'{f} {counts[f]}' for f in FAULTS)}); "
        f"clients left mid-stream {counts['left']}; finished {counts['finished']}; "
        f"error lines {counts['error-line']}; bad {counts['bad'] + counts['bad-status']}; "
        f"leaks found {leaks} (open upstream streams {upstream.open_streams()}, greenlets "
        f"{probe['greenlets']} -> {after['greenlets']}, fds {probe['fds']} -> {after['fds']}); "
        f"worker RSS {rss_before} kB -> {rss_after} kB "
        f"({(rss_after / rss_before - 1) * 100:+.1f} %)"
    )
    assert tally.problems == []
    assert counts["bad"] == counts["bad-status"] == 0
    assert streams > 1000  # the load was real
    assert faults > 0.15 * streams and counts["left"] > 0.1 * streams
    assert drained, f"{upstream.open_streams()} upstream streams still open after 5 s"
    assert leaks == 0
    assert abs(rss_after - rss_before) <= 0.10 * rss_before
