"""Large request bodies against the real server (gunicorn, one gevent worker): twenty
clients uploading bodies of the largest size at once must not exhaust the worker
(MAX_BODY_BYTES_IN_FLIGHT: past it 503 before the body is read), and a small request is
still served meanwhile (docs/configuration.md, "Request limits")."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import httpx2
import pytest

from streamchat.settings.images import MIB
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.images import chat_image, data_url, image_message, png
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import CHAT, reply_payloads
from tests.support.processes import status_kb, worker_pids

UPLOADS = 20
PIECE = 1 * MIB
PIECE_PAUSE = 0.08  # a max-size body takes about 2.3 s to send: all twenty overlap
# What the worker's RSS may grow by while they upload. Two bodies of about 28 MB fit in
# the default 64 MiB at once, each alive as read, parsed and sent upstream (three
# copies): about 170 MB at worst. Without the bound, twenty bodies of 28 MB being read
# at once are 560 MB at least.
RSS_GROWTH_BOUND_MB = 320


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.script = Script(payloads=reply_payloads("chatcmpl-big", ["Seen", "."]))
        yield fake


@pytest.fixture(scope="module")
def server(upstream) -> Iterator[RunningServer]:
    # The image settings at their defaults: MAX_IMAGE_BYTES 5 MiB, 4 per message,
    # MAX_CONTENT_LENGTH to fit them, MAX_BODY_BYTES_IN_FLIGHT 64 MiB. (With
    # MAX_BODY_BYTES_IN_FLIGHT=2000000000 all twenty are read at once: the worker grew
    # by 1.2 GB, and a small chat meanwhile waited 14 s.)
    server = start_gunicorn_against(upstream.base_url, REQUEST_BODY_TIMEOUT_SECONDS="30")
    yield server
    server.stop()


def largest_body() -> bytes:
    """A chat body as large as MAX_CONTENT_LENGTH's default allows: four PNGs of 5 MiB."""
    image = png(64, 64)
    url = data_url(image + b"\0" * (5 * MIB - len(image)))
    body = json.dumps(image_message("four big ones", *[chat_image(url)] * 4)).encode()
    assert 27_900_000 < len(body) < 28_962_416
    return body


def upload(port: int, body: bytes, outcome: list) -> None:
    """Send ``body`` a piece at a time, stopping as soon as the server answers; note the
    status and the error code."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        for at in range(0, len(body), PIECE):
            if select.select([sock], [], [], 0)[0]:
                break  # answered before the whole body was sent: refused
            try:
                sock.sendall(body[at : at + PIECE])
            except OSError:
                break
            time.sleep(PIECE_PAUSE)
        sock.settimeout(30)
        with contextlib.suppress(OSError), sock.makefile("rb") as answer:
            status_line = answer.readline()
            headers = {}
            while (line := answer.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            if "content-length" in headers:  # a refusal: its JSON says why
                error = json.loads(answer.read(int(headers["content-length"])))["error"]
                outcome.append((int(status_line.split()[1]), error["code"]))
            elif status_line:
                outcome.append((int(status_line.split()[1]), None))  # a stream: admitted
            return
    outcome.append((None, None))


def poll_health(url: str, latencies: list, running: threading.Event) -> None:
    """GET /healthz every 50 ms while ``running`` is set, noting how long each took."""
    with httpx2.Client(base_url=url, timeout=60) as client:
        while running.is_set():
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)


def test_twenty_largest_bodies_at_once_keep_the_worker_bounded_and_serving(
    server, upstream, report
):
    (worker,) = worker_pids(server.process.pid)
    with httpx2.Client(base_url=server.url, timeout=30) as client:
        assert client.post("/api/chat", json=CHAT).status_code == 200  # warmed up
    before = status_kb(worker)
    body = largest_body()
    outcomes: list = []
    uploads = [
        threading.Thread(target=upload, args=(server.port, body, outcomes)) for _ in range(UPLOADS)
    ]
    latencies: list = []
    polling = threading.Event()
    polling.set()
    poller = threading.Thread(target=poll_health, args=(server.url, latencies, polling))
    peak = before
    poller.start()
    while not latencies:  # its connection made, before the uploads start
        time.sleep(0.01)
    for thread in uploads:
        thread.start()
    time.sleep(0.5)
    with httpx2.Client(base_url=server.url, timeout=60) as client:
        small = client.post("/api/chat", json=CHAT)  # a chat of a few bytes, meanwhile
    small_done = time.monotonic()
    while any(thread.is_alive() for thread in uploads):
        peak = max(peak, status_kb(worker))
        time.sleep(0.02)
    uploads_done = time.monotonic()
    polling.clear()
    poller.join()
    growth_mb = (peak - before) / 1000
    statuses = sorted(outcomes, key=str)
    report(
        f"{UPLOADS} uploads of {len(body)} bytes: {statuses.count((200, None))} read, "
        f"{statuses.count((503, 'server_busy'))} refused; worker RSS {before} kB before, "
        f"peak {peak} kB (+{growth_mb:.0f} MB); meanwhile a small chat {small.status_code}, "
        f"{len(latencies)} health checks, slowest {max(latencies[1:]):.2f} s"
    )
    assert small.status_code == 200 and "Seen" in small.text
    assert set(statuses) <= {(200, None), (503, "server_busy")}, statuses
    assert (200, None) in statuses and (503, "server_busy") in statuses
    assert growth_mb < RSS_GROWTH_BOUND_MB
    # The worker kept answering while it read the bodies it took (each of the largest
    # costs it about 0.3 s of CPU to read, parse, check and send on): every health check
    # (poll_health asserts each 200), and the small chat before the uploads were done.
    assert len(latencies) >= 10
    assert small_done < uploads_done
    # The admitted ones went upstream whole: four images each.
    sent = [r.request for r in upstream.records if r.request.get("messages")]
    big = [m for m in sent if isinstance(m["messages"][-1]["content"], list)]
    assert all(len(m["messages"][-1]["content"]) == 5 for m in big)
    assert len(big) == statuses.count((200, None))
