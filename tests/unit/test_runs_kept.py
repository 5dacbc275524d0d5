"""An ended run stays readable for RUN_KEEP_SECONDS, its lines counted against
RUN_KEEP_MAX_BYTES; what else it held goes when it ends, above all its upstream response,
which holds the request: the whole conversation sent upstream, uncounted by that bound.

Found by the runs soak (tests/server/test_runs_soak.py): with conversations of ~150,000
characters, each worker's memory grew 12-16 % over 200 runs, since every run of the last
minute still held its request (~49 KB a run for a 30,000-character question, ~6 KB once
it lets go)."""

from __future__ import annotations

import gc
import weakref

from streamchat.runtime import runtime_of
from tests.support.budgets import REPLY, sse_handler
from tests.support.payloads import chat_body
from tests.support.waiting import wait_for


def test_an_ended_run_keeps_its_lines_and_lets_its_upstream_response_go(make_app):
    responses = []

    def upstream(request):
        response = sse_handler()(request)
        responses.append(weakref.ref(response))
        return response

    app = make_app(upstream, RUN_KEEP_SECONDS="600")
    reply = app.test_client().post("/api/chat", json=chat_body("x" * 30_000))
    body = reply.get_data()
    run = runtime_of(app).runs.registry.get(reply.headers["X-Run-ID"])
    assert wait_for(lambda: run.result is not None, 5)

    gc.collect()
    assert body == b"".join(p + b"\n" for p in REPLY)
    assert run.lines.lines == body.splitlines(keepends=True)  # kept: still readable
    assert len(responses) == 1 and responses[0]() is None
