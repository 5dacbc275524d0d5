"""Waiting for something to become true, and running work in several threads at once."""

from __future__ import annotations

import threading
import time


def wait_for(predicate, seconds: float = 10.0, interval: float = 0.02):
    """Poll ``predicate`` until it returns something truthy or ``seconds`` pass.

    Returns that first truthy value, or the last value once time is up, so callers can
    both assert on it and use it.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    return predicate()


def run_threads(target, args_list: list[tuple], seconds: float) -> float:
    """Run ``target`` once per argument tuple, each in its own thread, all at once.

    Waits up to ``seconds`` for them, fails the test if any is still running then, and
    returns the wall time from the first start to the last end.
    """
    threads = [threading.Thread(target=target, args=args) for args in args_list]
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    took = time.monotonic() - start
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return took
