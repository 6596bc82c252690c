"""Which socket, if any, is this process's link to its backend: set by a warm worker as it starts
(`backend/plugins/local/worker.py`), read by the remote controller (`controllers/remote/link.py`),
which sends the worker's nested calls over it. A process forked from the worker has none."""

from __future__ import annotations

import os

_FD = -1  # the link's socket, as the warm worker was given it
_PID = 0  # the process it belongs to


def attach(fd: int) -> None:
    """In a warm worker: its actions' nested calls go over the socket `fd` (kept from children)."""
    global _FD, _PID
    os.set_inheritable(fd, False)
    _FD, _PID = fd, os.getpid()


def attached() -> int:
    """The link's socket in this process, or -1."""
    return _FD if _PID == os.getpid() else -1
