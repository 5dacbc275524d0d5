"""The instructions scenario: instructions per chunk of the app's relay path, counted.

A shared machine's cores change speed by up to 2x within minutes, so timings cannot tell
a 2 % change in the per-chunk path from noise. Instruction counts can: valgrind's
callgrind counts the same total for the same code and the same input, whatever else the
machine is doing. This starts the app exactly as the Procfile runs it (gunicorn, one
gevent worker) under callgrind, twice, and sends each one stream: a short one and a long
one. The worker's totals differ by the long stream's extra chunks, so start-up, imports,
the request's own work and shutdown cancel out, and the difference divided by the extra
chunks is the whole per-chunk path of the worker: reading the upstream's socket, the
relay, Flask's and gunicorn's layers, the write to the client, gevent's hub between.

For the count to repeat, each chunk must reach the worker alone and find it waiting, as
in a real token stream: the upstream here sends the next chunk only once the client has
read the previous one and a short pause has passed (lockstep), its events are byte for
byte the same every time, and the app runs with a fixed hash seed.
Writes instructions.json and instructions.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .appconfig import AppConfig, app_config
from .environment import app_source_fingerprint, describe
from .http1 import LAST_CHUNK, ChunkedDecoder, frame_chunk, split_head, status_code, take_request
from .loadgen import chat_request
from .report import header, progress, write_results
from .servers import RelayServer, free_port, launch_for

MISSING = (
    "valgrind is not installed: the instructions scenario counts instructions with "
    "valgrind's callgrind (Debian, Ubuntu: apt-get install valgrind). Nothing was measured."
)
WARMUP_CHUNKS = 20
# After the client read a chunk, the upstream waits this long before the next one, so the
# worker (slowed down some 50x by callgrind) is back waiting for it.
PAUSE_S = 0.005
# Under callgrind the app takes about a minute to import; each step is bounded.
START_S, READ_S, STOP_S = 600.0, 120.0, 120.0
_EVENT = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench-model","system_fingerprint":"fp_bench","choices":[{"index":0,'
    b'"delta":{"content":" token"},"logprobs":null,"finish_reason":null}]}\n\n'
)
_FINISH = _EVENT.replace(b'{"content":" token"}', b"{}").replace(b"null}]", b'"stop"}]')
_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
_MODELS = b'{"object":"list","data":[{"id":"bench-model","object":"model","owned_by":"bench"}]}'
_TOTAL = re.compile(rb"^(?:totals|summary): (\d+)", re.MULTILINE)


class LockstepUpstream:
    """A fake upstream whose chat streams move only when told: each chat request gets
    ``tokens`` events, the first at once and each next one when ``advance()`` is called."""

    def __init__(self) -> None:
        self.tokens = 0
        self.left = -1
        self.streaming: asyncio.Transport | None = None

    def start(self, transport: asyncio.Transport) -> None:
        """A chat request came on ``transport``: the head and the first event."""
        self.streaming, self.left = transport, self.tokens
        transport.write(_HEAD)
        self.advance()

    def advance(self) -> None:
        """Send the next event (after the last token: the finish, [DONE], the end)."""
        if self.left > 0:
            self.streaming.write(frame_chunk(_EVENT))
        elif self.left == 0:
            self.streaming.write(
                frame_chunk(_FINISH) + frame_chunk(b"data: [DONE]\n\n") + LAST_CHUNK
            )
        self.left -= 1


class _UpstreamConnection(asyncio.Protocol):
    """One connection from the app to the LockstepUpstream."""

    def __init__(self, upstream: LockstepUpstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (parsed := take_request(self.buffer)) is not None:
            start_line, _, self.buffer = parsed
            if start_line.startswith("POST ") and "/chat/completions" in start_line:
                self.upstream.start(self.transport)
                continue
            found = "/models" in start_line
            body = _MODELS if found else b"{}"
            self.transport.write(
                b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s"
                % (b"200 OK" if found else b"404 Not Found", len(body), body)
            )


async def _one_stream(port: int, headers: dict, upstream: LockstepUpstream, tokens: int) -> None:
    """One chat stream of ``tokens`` chunks through the app, in lockstep with the upstream."""
    upstream.tokens = tokens
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(chat_request(port, headers=headers))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_S)
        status_line, _, rest = split_head(head)
        if status_code(status_line) != 200:
            raise RuntimeError(f"the app answered {status_line}")
        decoder, lines, data = ChunkedDecoder(), 0, rest
        while not decoder.done:
            for _ in range(decoder.feed(data).count(b"\n")):
                lines += 1
                if lines <= tokens:  # the finish line is the last one
                    await asyncio.sleep(PAUSE_S)
                    upstream.advance()
            if not decoder.done:
                data = await asyncio.wait_for(reader.read(65536), READ_S)
                if not data:
                    raise RuntimeError(f"the app closed the stream after {lines} lines")
        if lines != tokens + 1:
            raise RuntimeError(f"{lines} lines relayed, {tokens + 1} expected")
    finally:
        writer.close()


async def _count(app: AppConfig, chunks: int, core: int, folder: Path) -> int:
    """The app's worker's instructions, from start to exit, with one stream of ``chunks``."""
    loop = asyncio.get_running_loop()
    upstream = LockstepUpstream()
    listener = await loop.create_server(lambda: _UpstreamConnection(upstream), "127.0.0.1", 0)
    port = free_port()
    launch = launch_for("app", port, listener.sockets[0].getsockname()[1], 10, app.root)
    launch.env.update(app.env())
    # A fixed hash seed: dict and set layouts, and so the instructions, repeat. gunicorn's
    # worker timeout would kill a worker that imports for a minute under callgrind.
    launch.env.update({"PYTHONHASHSEED": "0", "GUNICORN_CMD_ARGS": f"--timeout {int(START_S)}"})
    launch.argv = [
        "valgrind", "--tool=callgrind", "--vgdb=no", "--dump-line=no",
        f"--callgrind-out-file={folder / 'callgrind.out.%p'}", *launch.argv,
    ]  # fmt: skip
    server = RelayServer("app", launch, port, core, folder / "server.log")
    try:
        server.start()
        # One patient request, not one every 2 s: each would be served, and counted.
        await server.wait_ready(START_S, answer_s=START_S)
        headers = await app.headers(port)
        await _one_stream(port, headers, upstream, WARMUP_CHUNKS)
        await _one_stream(port, headers, upstream, chunks)
        await server.stop(STOP_S)
    except Exception as error:
        raise RuntimeError(f"{error}\n{server.log_tail()}") from error
    finally:
        server.kill()
        listener.close()
    worker_files = [
        path for path in folder.glob("callgrind.out.*") if path.suffix != f".{server.pid}"
    ]
    if len(worker_files) != 1:
        raise RuntimeError(f"expected one worker's callgrind file, found {len(worker_files)}")
    found = _TOTAL.findall(worker_files[0].read_bytes())
    if not found:
        raise RuntimeError(f"no total in {worker_files[0]}")
    return int(found[-1])


async def instructions(args: argparse.Namespace) -> int:
    """The instructions scenario; exit status 2 without valgrind, 1 if a count failed."""
    if shutil.which("valgrind") is None:
        progress(MISSING)
        return 2
    short, long = args.chunks
    cores = sorted(os.sched_getaffinity(0))
    workdir = Path(tempfile.mkdtemp(prefix="streamchat-bench-"))
    try:
        app = app_config(args, workdir)
        results = {"meta": describe(app.root)}
        progress(f"two app servers under callgrind ({short} and {long} chunks), ~2 min ...")
        folders = [workdir / "short", workdir / "long"]
        for folder in folders:
            folder.mkdir()
        # Both at once, each on its own core: the counts do not depend on timing.
        counted = await asyncio.gather(
            *(
                _count(app, chunks, cores[i % len(cores)], folder)
                for i, (chunks, folder) in enumerate(zip((short, long), folders, strict=True))
            ),
            return_exceptions=True,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    failed = [error for error in counted if isinstance(error, BaseException)]
    if failed:
        progress(f"counting failed: {failed[0]}")
        return 1
    totals: list[int] = counted
    per_chunk = (totals[1] - totals[0]) / (long - short)
    results.update(
        {
            "params": {
                "chunks": [short, long],
                "warmup_chunks": WARMUP_CHUNKS,
                "pause_ms": PAUSE_S * 1000,
                "app_dir": str(app.root),
                "app_source": app_source_fingerprint(app.root),
                "app_settings": app.shown(),
                "signed_in": app.sign_in,
                "valgrind": _valgrind_version(),
            },
            "worker_instructions": totals,
            "instructions_per_chunk": round(per_chunk),
            "warnings": [],
        }
    )
    write_results(args.out, "instructions", results, _markdown(results))
    return 0


def _valgrind_version() -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(
            ["valgrind", "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    return None


def _markdown(results: dict) -> str:
    params = results["params"]
    short, long = params["chunks"]
    settings = ", ".join(f"`{k}={v}`" for k, v in params["app_settings"].items()) or "—"
    return (
        "\n".join(
            [
                "# streamchat instructions per chunk",
                "",
                *header(results),
                f"The app from `{params['app_dir']}` (source {params['app_source']}) under "
                f"{params['valgrind']} callgrind, one gevent worker; settings {settings}; "
                f"signed in: {params['signed_in'] or 'no'}.",
                "",
                "| chunks short / long | worker instructions short / long "
                "| instructions per chunk |",
                "| ---: | ---: | ---: |",
                f"| {short:,} / {long:,} | {results['worker_instructions'][0]:,} / "
                f"{results['worker_instructions'][1]:,} | {results['instructions_per_chunk']:,} |",
                "",
                "Per chunk: the difference of the worker's totals over the difference of the "
                "streams' chunks. See bench/README.md.",
            ]
        )
        + "\n"
    )
