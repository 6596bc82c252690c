"""Process facts from /proc, and signalling a process group: what the local plugin knows of its children."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("flyte_jupyter.backend")


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode(errors="replace")
    except OSError:
        return None
    fields = data.rsplit(")", 1)[-1].split()
    if fields and fields[0] == "Z":
        return None
    return fields[19] if len(fields) > 19 else None


def group_rss(pgid: int, pids: set[int]) -> int:
    """Resident bytes of the attempt's processes (the leader and the children we have seen)."""
    total = 0
    for pid in list(pids):
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pids.discard(pid)
    try:
        with open(f"/proc/{pgid}/task/{pgid}/children", "rb") as fh:
            pids.update(int(p) for p in fh.read().split())
    except OSError:
        pass
    return total


def killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
