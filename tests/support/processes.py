"""What the leak tests read of a server's processes from /proc (Linux): its gunicorn
workers, and a figure of a worker's /proc/<pid>/status such as VmRSS."""

from __future__ import annotations

from pathlib import Path


def worker_pids(master: int) -> list[int]:
    """The pids of the gunicorn workers under the master ``master`` (its children)."""
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def status_kb(pid: int, field: str = "VmRSS") -> int:
    """A figure of ``pid``'s /proc status in kB (VmRSS: its resident memory now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")
