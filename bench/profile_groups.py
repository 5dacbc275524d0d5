"""Groups a py-spy profile of the app's worker by what the worker was doing per chunk.

Record while the benchmark streams through the app (py-spy is not a project
dependency; install it where you like), then group:

    .venv/bin/python -m bench.run --variants app --n 200 --tokens 400 --skip-admission &
    py-spy record --nonblocking -r 200 -f raw -d 4 -o profile.txt -p <the worker's pid>
    .venv/bin/python -m bench.profile_groups profile.txt

Each sample goes to the first group whose test matches its stack (outermost frame
first), so the shares add up to 100 %.
"""

from __future__ import annotations

import sys
from collections import Counter

# (group, test on the stack's function names); the first match wins.
_GROUPS = (
    ("gevent hub: epoll, libev callbacks, greenlet switches", lambda names: names[-1] == "Hub.run"),
    (
        "per request: HTTP parse, Flask, SDK request and pool, connect, log line",
        lambda names: any(
            n in ("Flask.__call__", "RequestRecord.log", "_stream.<locals>.finish")
            or n.startswith("Parser.")
            for n in names
        ),
    ),
    ("client write: chunk framing, gevent sendall, send()", lambda names: "write_chunk" in names),
    ("upstream read: gevent recv", lambda names: "SocketMixin.recv" in names),
    (
        "relay: framing, SSE to NDJSON, checks, generator hops",
        lambda names: any(
            n in ("relay", "_body", "Chunked.feed", "RequestRecord.sent", "_read_under_gevent")
            or n.startswith(("ChatProtocol.", "stream_with_context"))
            for n in names
        ),
    ),
)


def group(lines: list[str]) -> tuple[Counter, int]:
    """Sample counts per group (and "other") for py-spy's raw (collapsed) lines."""
    shares: Counter = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        names = [frame.split(" (")[0] for frame in stack.split(";")]
        name = next((g for g, test in _GROUPS if test(names)), "other")
        shares[name] += samples
    return shares, total


def main() -> None:
    """Print each group's share of the samples in the file named on the command line."""
    with open(sys.argv[1]) as profile:
        shares, total = group(profile.readlines())
    print(f"{total} samples")
    for name, samples in shares.most_common():
        print(f"{samples / total * 100:5.1f} %  {name}")


if __name__ == "__main__":
    main()
