"""Soak of runs (docs/architecture.md, "Runs"): real gunicorn with two workers, a grace
period and a token budget, and 200 runs whose clients do, by a seeded draw, what clients
do: read to the end, hang up for good, hang up and resume (NDJSON or SSE) on whichever
worker takes the new connection, stop the run from whichever worker, while the upstream
resets some replies and cuts others off.

Afterwards every run has exactly one log line and the budget's ``used`` is the sum of
their ``tokens_counted`` (each settled once, nothing left reserved), each worker admits
MAX_STREAMS_PER_WORKER new streams (no stream place leaked), the upstream has no stream
open, and each worker's memory is back within 10 % of where the warm-up left it."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx2
import pytest

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import PROBE_APP, RunningServer, start_gunicorn_against
from tests.support.payloads import chat_body, counted_reply, reply_payloads
from tests.support.processes import status_kb, worker_pids
from tests.support.runs import log_lines, owner_pid, served_by, sse_lines
from tests.support.waiting import run_threads, wait_for

pytestmark = pytest.mark.timeout(240)

RUNS, WARM_UP_RUNS, CLIENTS = 200, 60, 16
GRACE_SECONDS = 2
MAX_STREAMS = 16  # per worker; also the size of the admission check afterwards
BUSY_RETRIES = 40
WHOLE = counted_reply("chatcmpl-soak", prompt=7, completion=24)  # 31 tokens, reported
LONG = counted_reply("chatcmpl-soak", prompt=7, completion=60)  # 67 tokens, 3 s
CUT = reply_payloads("chatcmpl-soak", [f"w{i} " for i in range(12)])[:10]  # no finish
SCRIPTS = {  # by the model a request names
    "whole": Script(payloads=WHOLE, interval=0.03),
    "long": Script(payloads=LONG, interval=0.05),  # outlasts a hang-up plus the grace
    "reset": Script(payloads=WHOLE, interval=0.03, reset_after=8),  # RST after 8 events
    "cut": Script(payloads=CUT, interval=0.03, send_done=False),
    # For the admission check: the role chunk, then silence until the app hangs up.
    "hold": Script(payloads=WHOLE, pauses={1: 120}),
}
# What a reader may get of each script's run: these lines, in order (or fewer of them
# and the fault's error line where the upstream fails).
SENT = {name: [p + b"\n" for p in payloads] for name, payloads in
        {"whole": WHOLE, "long": LONG, "reset": WHOLE[:8], "cut": CUT}.items()}  # fmt: skip
# What each run sends: a long conversation (~150,000 characters of MAX_TOTAL_CHARS 200,000),
# as a chat some turns in does, so that what a run holds of its request shows in memory.
CONVERSATION = [
    {"role": role, "content": f"{role} turn {turn}: " + "many words " * 2700}
    for turn in range(3)
    for role in ("user", "assistant")
][:-1]
FAULT = {"reset": "upstream_disconnected", "cut": "upstream_cut_off"}
SCRIPT_WEIGHTS = {"whole": 40, "long": 25, "reset": 20, "cut": 15}
SERVER = {  # the settings of the server under soak (PROBE_APP: greenlets by worker)
    "WEB_CONCURRENCY": "2",
    "RUN_GRACE_SECONDS": str(GRACE_SECONDS),
    "HEARTBEAT_SECONDS": "1",
    "TOKEN_BUDGET": "1000000000/year",  # never binding: every run reserves and settles
    "MAX_STREAMS_PER_WORKER": str(MAX_STREAMS),
    "OPENAI_MODEL": "whole",
    "OPENAI_MODELS": ",".join(SCRIPTS),
}
# read: to the end; leave: hang up for good; resume(-sse): hang up, come back with
# ?after=n (or Last-Event-ID) on a new connection; stop: stop it on a new connection
# and read on; leave-stop: hang up, then stop it.
ACTION_WEIGHTS = {
    "read": 28, "leave": 16, "resume": 24, "resume-sse": 12, "stop": 12, "leave-stop": 8
}  # fmt: skip
PARTIAL = {"leave", "stop", "leave-stop"}  # a reader of these may see part of the reply


@dataclass
class Plan:
    """One run: what its client does, and what it saw."""

    index: int
    script: str
    action: str
    head: int  # lines read before hanging up or stopping
    pause: float  # between hanging up and resuming, well inside the grace period
    run_id: str = ""
    problem: str | None = None
    stop_status: int | None = None
    busy: int = 0  # 503 server_busy answers before the POST was taken
    lines: list[bytes] = field(default_factory=list)

    @property
    def natural(self) -> str:
        """The outcome of this run when nobody stops it and its reader stays."""
        return "upstream_error" if self.script in FAULT else "completed"

    def outcomes(self) -> set[str]:
        """The outcomes the run's log line may say, whichever wins a race."""
        if self.action in ("stop", "leave-stop"):
            return {"stopped", self.natural}  # the reply may end before the stop lands
        if self.action == "leave" and self.script == "long":
            return {"client_disconnected", "completed"}  # grace over first, unless slow
        return {self.natural}

    def explains(self, outcome: str, error_code: str | None) -> bool:
        """Whether the run's log line may say ``outcome`` with ``error_code``."""
        fault = FAULT.get(self.script) if outcome == "upstream_error" else None
        return outcome in self.outcomes() and error_code == fault


def draw_plans(count: int, seed: int, first: int = 0) -> list[Plan]:
    rng = random.Random(seed)
    pick = lambda weights: rng.choices(list(weights), list(weights.values()))[0]  # noqa: E731
    return [
        Plan(i, pick(SCRIPT_WEIGHTS), pick(ACTION_WEIGHTS), rng.randint(1, 6), rng.uniform(0, 0.8))
        for i in range(first, first + count)
    ]


# --- one client ---------------------------------------------------------------------


def request(port: int, method: str, path: str, request_id: str, body=None, **headers):
    """One request on a new connection (so either worker may take it): (connection,
    response with its headers read)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = {"X-Request-ID": request_id, **headers}
    if body is not None:
        body, headers["Content-Type"] = json.dumps(body), "application/json"
    connection.request(method, path, body, headers)
    return connection, connection.getresponse()


def read_lines(response: http.client.HTTPResponse, limit: int | None = None) -> list[bytes]:
    """Up to ``limit`` NDJSON lines (all, without one), heartbeats skipped."""
    lines: list[bytes] = []
    while (limit is None or len(lines) < limit) and (line := response.readline()):
        if line.strip():
            lines.append(line)
    return lines


def verdict(plan: Plan, done: bool | None = None) -> str | None:
    """None when ``plan.lines`` are what a reader of its run may get, else what is wrong."""
    sent, lines = SENT[plan.script], plan.lines
    error = None
    if lines and b'"error"' in lines[-1]:
        lines, error = lines[:-1], json.loads(plan.lines[-1])["error"]["code"]
    if lines != sent[: len(lines)]:
        return f"{plan.script}/{plan.action}: lines differ from what the upstream sent"
    whole = error is None and len(lines) == len(sent) and plan.script not in FAULT
    if done is not None and done != whole:
        return f"{plan.script}/{plan.action}: [DONE] {done} on a reply finished {whole}"
    if error is not None and error != FAULT.get(plan.script):
        return f"{plan.script}/{plan.action}: error line {error}"
    if error is None and not whole and plan.action not in PARTIAL:
        return f"{plan.script}/{plan.action}: ended after {len(lines)} lines, no error line"
    return None


def stop(port: int, plan: Plan) -> None:
    connection, response = request(
        port, "POST", f"/api/runs/{plan.run_id}/stop", f"soak-{plan.index}-stop"
    )
    response.read()
    connection.close()
    plan.stop_status = response.status


def resume(port: int, plan: Plan) -> bool | None:
    """Come back for the rest of the run; whether an SSE body ended with [DONE]."""
    sse = plan.action == "resume-sse"
    place = {"Accept": "text/event-stream", "Last-Event-ID": str(plan.head)} if sse else {}
    path = f"/api/runs/{plan.run_id}" + ("" if sse else f"?after={plan.head}")
    connection, response = request(port, "GET", path, f"soak-{plan.index}-resume", **place)
    try:
        assert response.status == 200, f"resume answered {response.status}"
        if not sse:
            plan.lines += read_lines(response)
            return None
        lines, done = sse_lines(response.read(), plan.head)
        plan.lines += lines
        return done
    finally:
        connection.close()


def post(port: int, plan: Plan) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """POST the chat; a worker with every stream place taken (503 server_busy, when the
    connections happen to crowd onto one worker) is asked again, as its Retry-After says."""
    body = {"messages": CONVERSATION, "model": plan.script}
    for attempt in range(BUSY_RETRIES):
        request_id = f"soak-{plan.index}-post" + (f"-{attempt}" if attempt else "")
        connection, response = request(port, "POST", "/api/chat", request_id, body)
        if response.status != 503 or attempt == BUSY_RETRIES - 1:
            return connection, response
        response.read()
        connection.close()
        plan.busy += 1
        time.sleep(0.25)
    raise AssertionError("unreachable")


def carry_out(port: int, plan: Plan) -> str | None:
    connection, response = post(port, plan)
    try:
        if response.status != 200:
            return f"POST answered {response.status}: {response.read()[:200]!r}"
        plan.run_id = response.getheader("X-Run-ID")
        plan.lines = read_lines(response, None if plan.action == "read" else plan.head)
        if plan.action == "stop":
            stop(port, plan)
            plan.lines += read_lines(response)  # the body ends soon after the stop
    finally:
        connection.close()  # for leave, resume, leave-stop: hanging up mid-reply
    done = None
    if plan.action == "leave-stop":
        stop(port, plan)
    elif plan.action.startswith("resume"):
        time.sleep(plan.pause)
        done = resume(port, plan)
    if plan.stop_status not in (None, 202):
        return f"stop answered {plan.stop_status}"
    return verdict(plan, done)


def drive(port: int, plans: list[Plan]) -> float:
    """Carry out ``plans`` with CLIENTS clients, each taking the next plan when done;
    returns the wall time. Fails if a client hangs."""
    queue, lock = iter(plans), threading.Lock()

    def client() -> None:
        while True:
            with lock:
                plan = next(queue, None)
            if plan is None:
                return
            try:
                plan.problem = carry_out(port, plan)
            except (OSError, http.client.HTTPException, ValueError, AssertionError) as exc:
                plan.problem = f"{plan.script}/{plan.action}: {exc!r}"

    return run_threads(client, [()] * CLIENTS, 120)


def run_entries(server: RunningServer, count: int) -> list[dict]:
    """The runs' log lines (one each when a run ends), once there are ``count``."""
    entries = lambda: [e for e in log_lines(server) if "run_id" in e]  # noqa: E731
    wait_for(lambda: len(entries()) >= count, GRACE_SECONDS + 20)
    return entries()


# --- what is left afterwards ---------------------------------------------------------


def greenlets(server: RunningServer, pids: list[int]) -> dict[int, int]:
    """Each worker's live greenlets (PROBE_APP's /_probe, on new connections until both
    workers have answered)."""
    seen: dict[int, int] = {}
    for _ in range(100):
        probe = httpx2.get(server.url + "/_probe", headers={"Connection": "close"}, timeout=10)
        seen[probe.json()["pid"]] = probe.json()["greenlets"]
        if len(seen) == len(pids):
            break
    return seen


def settled(server: RunningServer, before: dict[int, int]) -> dict[int, int] | None:
    """Each worker's greenlets once no worker has more than ``before``, else None."""
    now = greenlets(server, list(before))
    return now if all(now.get(pid, 0) <= count for pid, count in before.items()) else None


def fill_every_worker(server: RunningServer, pids: list[int]) -> tuple[list, Counter, str]:
    """Open "hold" streams one at a time and keep them open until every worker holds
    MAX_STREAMS of them. A worker that refuses one (503) with fewer of ours open has
    places taken by nothing: a leak. Returns (the connections, held per worker, the
    problem or "")."""
    held: Counter[int] = Counter()
    connections = []
    for attempt in range(MAX_STREAMS * len(pids) * 4):
        if all(held[pid] == MAX_STREAMS for pid in pids):
            return connections, held, ""
        request_id = f"burst-{attempt}"
        connection, response = request(
            server.port, "POST", "/api/chat", request_id, chat_body("hold", "hold")
        )
        connections.append(connection)
        if response.status == 200:
            held[owner_pid(response.getheader("X-Run-ID"))] += 1
            continue
        refusal = json.loads(response.read())["error"]["code"]
        pid = served_by(server, request_id)
        if (response.status, refusal) != (503, "server_busy") or held[pid] < MAX_STREAMS:
            return connections, held, f"worker {pid} refused with {held[pid]} open: {refusal}"
    return connections, held, "never filled both workers"


# --- the soak -----------------------------------------------------------------------


def test_two_hundred_runs_settle_once_and_leave_nothing_behind(report):
    began = time.monotonic()
    warm_up = draw_plans(WARM_UP_RUNS, seed=7)
    plans = draw_plans(RUNS, seed=2026, first=WARM_UP_RUNS)
    with FakeUpstream() as upstream:
        upstream.scripts = SCRIPTS
        server = start_gunicorn_against(upstream.base_url, PROBE_APP, **SERVER)
        try:
            pids = worker_pids(server.process.pid)
            drive(server.port, warm_up)
            run_entries(server, sum(1 for p in warm_up if p.run_id))
            greenlets_before = greenlets(server, pids)
            rss_before = {pid: status_kb(pid) for pid in pids}

            soak_seconds = drive(server.port, plans)
            started = [p.run_id for p in warm_up + plans if p.run_id]
            soaked = run_entries(server, len(started))
            open_after_soak = wait_for(lambda: upstream.open_streams() == 0, 10)
            # A greenlet left waiting (a reader, a peer's connection, a timer) would be a
            # hang: the connections still closing get a moment to go.
            greenlets_after = wait_for(lambda: settled(server, greenlets_before), 10) or (
                greenlets(server, pids)
            )
            rss_after = {pid: status_kb(pid) for pid in pids}

            held_connections, held, refused = fill_every_worker(server, pids)
            for connection in held_connections:
                connection.close()
            everything = run_entries(server, len(started) + held.total())
            budget = httpx2.get(server.url + "/api/budget", timeout=10).json()
            drained = wait_for(lambda: upstream.open_streams() == 0, 10)
            logs = log_lines(server)
        finally:
            output = server.stop()

    ours = {plan.run_id: plan for plan in plans}
    said = [
        (ours[e["run_id"]], e["outcome"], e.get("error_code"))
        for e in soaked
        if e["run_id"] in ours
    ]
    outcomes = Counter(outcome for _, outcome, _ in said)
    answered_by = {e["request_id"]: e["pid"] for e in logs if "request_id" in e}

    def elsewhere(kind: str) -> int:
        """Requests of this kind that the worker not owning their run answered."""
        ids = {f"soak-{p.index}-{kind}": owner_pid(p.run_id) for p in plans if p.run_id}
        return sum(answered_by[i] != owner for i, owner in ids.items() if i in answered_by)

    rss = ", ".join(f"{rss_before[p]} -> {rss_after[p]} kB" for p in pids)
    report(
        f"runs soak: {RUNS} runs by {CLIENTS} clients in {soak_seconds:.1f} s after a "
        f"{WARM_UP_RUNS}-run warm-up; outcomes {dict(sorted(outcomes.items()))}; "
        f"plans {dict(Counter(p.action for p in plans))}, "
        f"scripts {dict(Counter(p.script for p in plans))}; busy answers retried "
        f"{sum(p.busy for p in warm_up + plans)}; resumes on the other worker "
        f"{elsewhere('resume')}, stops there {elsewhere('stop')}; budget used "
        f"{budget['used']}; admitted afterwards {dict(held)}; worker RSS {rss}; greenlets "
        f"{greenlets_before} -> {greenlets_after}; "
        f"wall {time.monotonic() - began:.1f} s"
    )
    assert [p.problem for p in warm_up + plans if p.problem] == []
    # Every run ended exactly once: one log line each, none for a run nobody started.
    by_run = Counter(e["run_id"] for e in everything)
    assert [run for run, lines in by_run.items() if lines != 1] == []
    assert set(started) <= set(by_run) and len(by_run) == len(started) + held.total()
    wrong = [(p.script, p.action, o, code) for p, o, code in said if not p.explains(o, code)]
    assert wrong == []
    assert {"completed", "upstream_error", "stopped", "client_disconnected"} <= set(outcomes)
    # Each settled its reservation, once: what is used is what the runs counted.
    assert "budget_settle_failed" not in output and "Traceback" not in output
    assert budget["used"] == sum(e["tokens_counted"] for e in everything)
    # Runs came back and were stopped through the worker that does not own them too.
    assert elsewhere("resume") > 0 and elsewhere("stop") > 0
    # No stream place taken by nothing, no upstream stream left open, nothing left
    # waiting, memory flat.
    assert refused == "" and dict(held) == dict.fromkeys(pids, MAX_STREAMS)
    assert open_after_soak and drained, f"{upstream.open_streams()} upstream streams open"
    for pid in pids:
        assert greenlets_after.get(pid, 0) <= greenlets_before[pid], (pid, greenlets_after)
        assert abs(rss_after[pid] - rss_before[pid]) <= 0.10 * rss_before[pid], rss
