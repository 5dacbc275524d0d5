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
in a real token stream: the upstream (bench.upstream.LockstepUpstream) sends the next
chunk only once the client has read the previous one and the worker is asleep again
(/proc says so), and the app runs with a fixed hash seed.
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
from .http1 import ChunkedDecoder, split_head, status_code
from .loadgen import chat_request
from .procstat import process_tree, state
from .report import header, progress, write_results
from .servers import RelayServer, free_port, launch_for
from .upstream import LockstepUpstream

MISSING = (
    "valgrind is not installed: the instructions scenario counts instructions with "
    "valgrind's callgrind (Debian, Ubuntu: apt-get install valgrind). Nothing was measured."
)
WARMUP_CHUNKS = 20
# The worker is taken to be waiting for the next chunk once /proc has shown it asleep
# this many times in a row, a millisecond apart (or after a second, whatever it does).
ASLEEP_LOOKS = 3
# Under callgrind the app takes about a minute to import; each step is bounded.
START_S, READ_S, STOP_S = 600.0, 120.0, 120.0
# callgrind's output file states the total of the counted events on one of these lines.
_TOTAL = re.compile(rb"^(?:totals|summary): (\d+)", re.MULTILINE)


async def _until_asleep(pid: int) -> None:
    """Return once process ``pid`` has been asleep for ASLEEP_LOOKS looks in a row."""
    asleep = 0
    for _ in range(1000):
        await asyncio.sleep(0.001)
        asleep = asleep + 1 if state(pid) == "S" else 0
        if asleep >= ASLEEP_LOOKS:
            return


async def _one_stream(
    port: int, headers: dict, upstream: LockstepUpstream, tokens: int, worker: int
) -> None:
    """One chat stream of ``tokens`` chunks through the app, in lockstep with the upstream:
    each next chunk once the client has the last one and the ``worker`` is asleep."""
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
                    await _until_asleep(worker)
                    upstream.advance()
            if not decoder.done:
                data = await asyncio.wait_for(reader.read(65536), READ_S)
                if not data:
                    raise RuntimeError(f"the app closed the stream after {lines} lines")
        if lines != tokens + 1:
            raise RuntimeError(f"{lines} lines relayed, {tokens + 1} expected")
    finally:
        writer.close()


def _server(app: AppConfig, folder: Path, upstream_port: int, core: int, counted: bool):
    """The app with its own SQLite file in ``folder`` (two sharing one would wait on each
    other's locks); ``counted``: under callgrind, its output in ``folder`` too."""
    port = free_port()
    launch = launch_for("app", port, upstream_port, 10, app.root)
    launch.env.update({"SQLITE_PATH": str(folder / "machine.sqlite3"), **app.settings})
    # A fixed hash seed: dict and set layouts, and so the instructions, repeat. gunicorn's
    # worker timeout would kill a worker that imports for a minute under callgrind.
    launch.env.update({"PYTHONHASHSEED": "0", "GUNICORN_CMD_ARGS": f"--timeout {int(START_S)}"})
    if counted:
        launch.argv = [
            "valgrind", "--tool=callgrind", "--vgdb=no", "--dump-line=no",
            f"--callgrind-out-file={folder / 'callgrind.out.%p'}", *launch.argv,
        ]  # fmt: skip
    return RelayServer("app", launch, port, core, folder / "server.log")


async def _prepare(app: AppConfig, folder: Path, core: int) -> None:
    """Start the app once outside callgrind and stop it: what a first start leaves on disk
    (compiled modules, the compressed static files, the SQLite schema) is then there
    for both counted servers alike, and neither counts making it."""
    server = _server(app, folder, free_port(), core, counted=False)
    try:
        server.start()
        await server.wait_ready()
    except (OSError, RuntimeError) as error:
        raise RuntimeError(f"{error}\n{server.log_tail()}") from error
    finally:
        await server.stop()


async def _count(app: AppConfig, chunks: int, core: int, folder: Path) -> int:
    """The app's worker's instructions, from start to exit, with one stream of ``chunks``."""
    upstream = LockstepUpstream()
    await upstream.start()
    server = _server(app, folder, upstream.port, core, counted=True)
    port = server.port
    try:
        server.start()
        # One patient request, not one every 2 s: each would be served, and counted.
        await server.wait_ready(START_S, answer_s=START_S)
        headers = await app.headers(port)
        [worker] = [pid for pid in process_tree(server.pid) if pid != server.pid]
        await _one_stream(port, headers, upstream, WARMUP_CHUNKS, worker)
        await _one_stream(port, headers, upstream, chunks, worker)
        await server.stop(STOP_S)
    except Exception as error:
        raise RuntimeError(f"{error}\n{server.log_tail()}") from error
    finally:
        server.kill()
        await upstream.close()
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
            await _prepare(app, folder, cores[0])
        # Both at once, each on its own core: the counts do not depend on timing.
        counted = await asyncio.gather(
            *(
                _count(app, chunks, cores[i % len(cores)], folder)
                for i, (chunks, folder) in enumerate(zip((short, long), folders, strict=True))
            ),
            return_exceptions=True,
        )
    except RuntimeError as error:  # from _prepare: the app does not start at all
        counted = [error]
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
