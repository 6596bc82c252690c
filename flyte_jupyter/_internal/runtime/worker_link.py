"""Which socket, if any, is this process's link to its backend, over which the remote controller
(`controllers/remote/link.py`) sends the process's nested calls. A warm worker is given its link
as it starts (`backend/plugins/local/worker.py`: `attach`); a forked attempt is offered its fork
server's report socket (`backend/plugins/local/zygote.py`: `offer`) and asks for a link over it
on its first nested call (`request`). Any other process, one the user's code forks too, has none.
"""

from __future__ import annotations

import array
import os
import socket

_FD = -1  # the link's socket, as the warm worker was given it or the attempt made it
_PID = 0  # the process it belongs to
_REPORT = -1  # the report socket a forked attempt may ask for a link on, until it has asked
_REPORT_PID = 0


def attach(fd: int) -> None:
    """In a warm worker: its actions' nested calls go over the socket `fd` (kept from children)."""
    global _FD, _PID
    os.set_inheritable(fd, False)
    _FD, _PID = fd, os.getpid()


def offer(report_fd: int) -> None:
    """In a forked attempt: `request` may ask the backend for a link over this report socket."""
    global _REPORT, _REPORT_PID
    _REPORT, _REPORT_PID = report_fd, os.getpid()


def attached() -> int:
    """The link's socket in this process, or -1."""
    return _FD if _PID == os.getpid() else -1


def request() -> int:
    """The link's socket, asking for one first if this process was offered a report socket: one
    datagram `{"link": true}` carrying the backend's end of a new socket pair (the kernel adds our
    pid, which is what the backend trusts). Asked once: -1 if the datagram could not go (then the
    calls use gRPC), and the link closes at once if the backend does not take it."""
    global _REPORT
    if attached() >= 0 or _REPORT < 0 or _REPORT_PID != os.getpid():
        return attached()
    report, _REPORT = _REPORT, -1
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with socket.socket(fileno=os.dup(report)) as out:
            out.sendmsg([b'{"link": true}'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                array.array("i", [theirs.fileno()]))], socket.MSG_DONTWAIT)
    except OSError:
        mine.close()
        return -1
    finally:
        theirs.close()
    attach(mine.detach())
    return attached()
