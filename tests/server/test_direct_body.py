"""The relay's fast read path (streamchat.relay.direct_body) where it needs processes:
over TLS with a certificate openssl makes, and under gevent in a process patched as
gunicorn's worker is (tests/support/gevent_direct_check.py). In plain threads, without
TLS: tests/unit/test_direct_body.py.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys

import httpx2
import pytest

from tests.support.environment import ROOT
from tests.support.payloads import numbered_chunk, sse_body
from tests.support.raw_server import (
    HEADERS_CHUNKED,
    RawServer,
    chunk,
    client_for,
    make_tls,
    open_test_stream,
)

GEVENT_CHECK = ROOT / "tests" / "support" / "gevent_direct_check.py"


def test_a_tls_body_is_read_directly_with_heartbeats(tmp_path):
    server_tls, client_tls = make_tls(tmp_path)
    events = sse_body([numbered_chunk(0), numbered_chunk(1, finish=True)])
    server = RawServer(
        [[HEADERS_CHUNKED, 0.05, chunk(events[:30]), 0.5, chunk(events[30:]), b"0\r\n\r\n"]],
        tls=server_tls,
    )
    client = client_for(server, http_client=httpx2.Client(verify=client_tls))
    stream = open_test_stream(client)
    pieces = list(stream.body(0.2, 5.0))
    assert stream.direct is True
    assert isinstance(
        stream._response.extensions["network_stream"].get_extra_info("socket"), ssl.SSLSocket
    )
    assert b"".join(p for p in pieces if p) == events
    assert pieces.count(None) >= 1  # the 0.5 s pause, over TLS too


def test_under_gevent_heartbeats_timeouts_and_closing_from_another_greenlet():
    """The gevent reader (one lazy timer per stream, no socket timeout) in a process
    patched as gunicorn's worker is: see tests/support/gevent_direct_check.py."""
    done = subprocess.run(
        [sys.executable, str(GEVENT_CHECK)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["direct"] is True
    assert results["body_ok"] is True
    # One recv per message: the reader waits for readability instead of trying first.
    assert results["tries_per_read"] == 1.0
    beats = results["beats"]
    assert len(beats) == 3, results
    assert 0.15 <= beats[0] <= 0.5
    assert results["timeout_error"] == "UpstreamReadTimeout"
    assert 0.6 <= results["timeout_at"] <= 2.0
    # end_for_shutdown from another greenlet fails the blocked read at once, not at the
    # next heartbeat (10 s here).
    assert results["shutdown_error"] == "server_shutting_down"
    assert '"code":"server_shutting_down"' in results["shutdown_last_line"]
    assert results["shutdown_after"] < 1.0
    if results["tls_direct"] == "no openssl" and os.environ.get("CI") != "true":
        pytest.skip("openssl not installed: the TLS half did not run")
    assert results["tls_direct"] is True and results["tls_body_ok"] is True
    assert results["tls_beats"] >= 1
