"""CPU time and memory of a server's whole process tree, read from /proc.

gunicorn is a master plus workers; the relay's cost is the sum over all of them, so
everything here takes the tree's root pid and walks /proc/*/stat parent links.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

_PROC = Path("/proc")
_TICK_US = 1_000_000 / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    # The command name is in parentheses and may hold spaces: split after the last ")".
    text = (_PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def state(pid: int) -> str:
    """The process's state letter: R running, S asleep (waiting in a syscall), ..."""
    try:
        return _stat_fields(pid)[0]
    except (OSError, IndexError):
        return "?"


def cpu_ns(pids: list[int]) -> int:
    """On-CPU time (user + system) of every thread of ``pids``, in nanoseconds.

    From /proc/<pid>/task/<tid>/schedstat, which counts in ns: utime+stime in
    /proc/<pid>/stat counts 10 ms clock ticks, too coarse for a short run's per-chunk cost.
    """
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for task in (_PROC / str(pid) / "task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    total += int((task / "schedstat").read_text().split()[0])
    return total


def cpu_ticks_us(pids: list[int]) -> float:
    """utime + stime of ``pids`` from /proc/<pid>/stat, converted to µs (a cross-check)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = _stat_fields(pid)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * _TICK_US


def rss_kb(pids: list[int]) -> int:
    """Summed VmRSS of ``pids``, in KB."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in (_PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
    return total


def core_busy_us(core: int) -> float:
    """Time CPU ``core`` has spent busy (not idle or waiting on I/O) since boot, in µs.

    Compared with a server's own CPU time it shows what else ran on its core.
    """
    for line in (_PROC / "stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(x) for x in line.split()[1:]]
            idle = ticks[3] + ticks[4]  # idle, iowait
            # user, nice, system, idle, iowait, irq, softirq, steal: steal (the hypervisor
            # ran something else) counts as busy, since the relay could not run then either.
            # guest time is already inside user time.
            return (sum(ticks[:8]) - idle) * _TICK_US
    raise ValueError(f"no cpu{core} in /proc/stat")


class RssSampler:
    """Samples the summed RSS of a fixed set of pids every ``period_s`` and keeps the peak."""

    def __init__(self, pids: list[int], period_s: float = 0.1) -> None:
        self.pids = pids
        self.period_s = period_s
        self.peak_kb = rss_kb(pids)
        self.samples = 1
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Begin sampling in the background of the running event loop."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> int:
        """Stop sampling (after one last sample); returns the peak in KB."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sample()
        return self.peak_kb

    def _sample(self) -> None:
        self.peak_kb = max(self.peak_kb, rss_kb(self.pids))
        self.samples += 1

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            self._sample()


def relay_and_harness_cores() -> tuple[int, int, str | None]:
    """(relay core, harness core, warning): two different cores when there are two."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:
        return cores[0], cores[1], None
    return cores[0], cores[0], "only one core: relay and harness share it; figures are suspect"
