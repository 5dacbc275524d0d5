"""Reading runs from outside the server (docs/architecture.md, "Runs"): which worker a
run id names, the server's JSON log lines and which worker answered a request, and a
resumed SSE body as the NDJSON lines it carries."""

from __future__ import annotations

import json

from tests.support.launch import RunningServer
from tests.support.waiting import wait_for


def owner_pid(run_id: str) -> int:
    """The worker a run id names: its owner part is the pid in hex, then a 6-digit nonce."""
    return int(run_id.split(".")[0][:-6], 16)


def log_lines(server: RunningServer) -> list[dict]:
    """The server's JSON log lines so far (one per request; a stream's when its run ends)."""
    return [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]


def served_by(server: RunningServer, request_id: str, seconds: float = 10) -> int | None:
    """The pid of the worker whose log line names ``request_id`` (None if none within
    ``seconds``)."""
    found = lambda: [e["pid"] for e in log_lines(server) if e.get("request_id") == request_id]  # noqa: E731
    answered = wait_for(found, seconds)
    return answered[0] if answered else None


def sse_lines(body: bytes, after: int) -> tuple[list[bytes], bool]:
    """A resumed SSE chat body's events as NDJSON lines, checking that their ids count on
    from ``after``; and whether it ended with ``data: [DONE]``."""
    lines, done = [], False
    for block in body.split(b"\n\n"):
        if not block or block.startswith(b":"):
            continue  # the end, or a heartbeat
        assert not done, "an event after [DONE]"
        if block == b"data: [DONE]":
            done = True
            continue
        ident, _, data = block.partition(b"\ndata: ")
        assert ident == b"id: %d" % (after + len(lines) + 1), block[:40]
        lines.append(data + b"\n")
    return lines, done
