"""A private redis-server on 127.0.0.1 for the tests that need counts shared between
processes (rate limits, sign-in throttles). Skipped without redis-server, except under
CI=true, where scripts/test installs it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from tests.support.launch import free_port


def start_redis() -> tuple[str, subprocess.Popen]:
    """A private redis-server on 127.0.0.1 with no persistence: (its URL, its process)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is missing; scripts/test installs it under CI")
        pytest.skip("redis-server is not installed (CI installs it)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return f"redis://127.0.0.1:{port}", process
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
