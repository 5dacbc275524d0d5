"""Instructions per chunk through the relay pipeline, counted by valgrind's callgrind.

This VM's cores change speed by up to 2x within minutes, so timings (bench.run,
bench.micro) cannot tell a 2 % change in the per-chunk path from noise. Instruction
counts can: callgrind gives the same total for the same code and input, whatever the
machine is doing. This runs ``bench.micro.relay_us`` (framing, relay(), the view's
count) for a short and a long stream under callgrind and reports the difference per
chunk, so start-up and imports cancel out.

    .venv/bin/python -m bench.instructions           # needs valgrind (Debian: valgrind)

Compare two commits by running it in a checkout of each.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SHORT, LONG = 2_000, 22_000
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(chunks: int) -> int:
    """Total instructions of a process that relays ``chunks`` chunks."""
    with tempfile.TemporaryDirectory() as folder:
        finished = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={Path(folder) / 'out'}",
                sys.executable,
                "-c",
                f"from bench.micro import relay_us; relay_us({chunks})",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = _COLLECTED.search(finished.stderr)
    if not found:
        raise RuntimeError("callgrind printed no total:\n" + finished.stderr[-2000:])
    return int(found.group(1))


def main() -> None:
    """Print the relay pipeline's instructions per chunk."""
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind)")
    per_chunk = (instructions(LONG) - instructions(SHORT)) / (LONG - SHORT)
    print(f"relay pipeline: {per_chunk:,.0f} instructions per chunk")


if __name__ == "__main__":
    main()
