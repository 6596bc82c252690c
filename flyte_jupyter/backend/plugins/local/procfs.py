"""Process facts from /proc, and signalling a process group: what the local plugin knows of its children."""

from __future__ import annotations

import logging
import os
import signal
import sys

log = logging.getLogger("flyte_jupyter.backend")


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PR_SET_PDEATHSIG = 1


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (fields[0] is the state), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read().decode(errors="replace")
    except OSError:
        return None
    return data.rsplit(")", 1)[-1].split()


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), or None if gone."""
    fields = _stat_fields(pid)
    if not fields or fields[0] == "Z":
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


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent ends (Linux's PR_SET_PDEATHSIG), and
    end now if `parent` is already gone (this process was reparented before the request took)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: socket EOF still ends us
            pass
    if parent and os.getppid() != parent:
        os._exit(0)


class ProcInfo:
    """One process as a /proc scan sees it (only processes this user may inspect)."""

    __slots__ = ("pid", "start", "session", "pgrp", "fds")

    def __init__(self, pid: int, start: str, session: int, pgrp: int, fds: dict[int, str]) -> None:
        self.pid = pid
        self.start = start
        self.session = session
        self.pgrp = pgrp
        self.fds = fds  # fd number -> the path it is open on (only paths under the scan's root)

    @property
    def leader(self) -> bool:
        """A session leader: an attempt or a reusable worker (each runs in a session of its own)."""
        return self.session == self.pid


def _writable(pid: int, fd: int) -> bool:
    """Whether fd is open for writing (a reader of a log file, `tail -f`, is not its writer)."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", "rb") as fh:
            for line in fh:
                if line.startswith(b"flags:"):
                    return int(line.split()[1], 8) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
    except (OSError, ValueError, IndexError):
        pass
    return False


def scan(root: str, all_fds: bool = False) -> list[ProcInfo]:
    """Live processes with stdout or stderr (with `all_fds`: any fd open for writing) on a file
    under `root`: how a restarted backend finds the attempts and servers of the one before it (a
    forked action's command line is its fork server's, but its stdout is its own attempt's log)."""
    root = root.rstrip("/") + "/"
    me = os.getpid()
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        fds: dict[int, str] = {}
        try:
            numbers = [int(n) for n in os.listdir(f"/proc/{pid}/fd")] if all_fds else [1, 2]
        except OSError:
            continue
        for fd in numbers:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(root) and (fd in (1, 2) or _writable(pid, fd)):
                fds[fd] = target
        if not fds:
            continue
        fields = _stat_fields(pid)
        if not fields or fields[0] == "Z" or len(fields) <= 19:
            continue
        found.append(ProcInfo(pid, fields[19], int(fields[3]), int(fields[2]), fds))
    return found
