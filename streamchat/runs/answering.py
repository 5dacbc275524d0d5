"""The answer to a request about a run from another worker (streamchat.runs.peers) or
another instance (streamchat.runs.remote): the same messages whichever way they travel.

One request (``{"op": "read"|"stop", "run", "after", "who"}``) is answered by batches of
messages: ``S`` + a JSON status first (``{"status": 200|202|400|404|429, "api"?}``), then
for a read ``L`` + each run line as it comes, ``#`` at each heartbeat, ``E`` + JSON at
the end (``{"finished": bool}``). Each message is one line; a run line ends with its
own newline, the others get one when framed for a socket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from .errors import TooManyReaders
from .lines import split_lines
from .reader import LocalReader
from .registry import RunRegistry

HEARTBEAT = b"#"


def status(code: int, **fields: str) -> bytes:
    """The status message."""
    return b"S" + json.dumps({"status": code, **fields}).encode()


def answers(registry: RunRegistry, request: dict, heartbeat: float) -> Iterator[list[bytes]]:
    """The batches of messages that answer ``request``. For a read, the owner's reader of
    the run is let go when this generator is closed (its asker left)."""
    run = registry.get(str(request.get("run")))
    if run is None or run.who != request.get("who"):
        yield [status(404)]
        return
    if request.get("op") == "stop":
        run.stop()
        yield [status(202)]
        return
    after = request.get("after")
    if not isinstance(after, int) or not 0 <= after <= len(run.lines.lines):
        yield [status(400)]
        return
    try:
        reader = LocalReader(run)
    except TooManyReaders:
        yield [status(429)]
        return
    try:
        yield [status(200, api=run.api_name)]
        for item in reader.follow(after, heartbeat):
            yield [HEARTBEAT] if item is None else [b"L" + line for line in split_lines(item)]
        yield [b"E" + json.dumps({"finished": reader.ends_with_done()}).encode()]
    finally:
        reader.close()


def read_status(message: bytes) -> dict:
    """The status an ``S`` message carries (a 404 for anything else)."""
    if not message.startswith(b"S"):
        return {"status": 404}
    return json.loads(message[1:])
