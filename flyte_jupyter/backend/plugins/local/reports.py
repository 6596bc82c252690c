"""The backend's end of the report socket: forked attempts say they ended, before their exit.

Why: an attempt's result is in storage (outputs.pb or error.pb) before its process exits, but the
exit reaches the backend only once the process is torn down and its template (the fork server it
was forked from) has been scheduled, reaped it and written the exit down its socket: 5-25 ms here,
most of a trivial run's time. So each attempt sends one datagram once its result is in place (see
`zygote._report_end`), and the plugin ends the attempt on it; the exit is still reaped as before
(and then changes nothing). An attempt killed after its report has ended already (it is not
retried); one killed before it is retried by its policy, unless its outputs.pb was in place.

Trust: one socket serves every attempt, so who sent a datagram is read from the kernel
(SO_PASSCRED: SCM_CREDENTIALS carries the sender's real pid), never from the message. A datagram
counts only from the attempt's own process and only for its own outputs path; anything else is
dropped. A report can come before the fork server's answer that tells the plugin the pid: it
waits here a few seconds for that (`take`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
from typing import Callable

log = logging.getLogger("flyte_jupyter.backend")

_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid
_EARLY_KEEP = 10.0  # seconds a report waits for its attempt's pid to be known


class Reports:
    """One datagram socket pair: attempts write to `fd` (inherited through the fork servers), the
    backend reads the other end on its loop and calls `on_report(pid, message)`."""

    def __init__(self, on_report: Callable[[int, dict], bool]) -> None:
        self._on_report = on_report  # True if the report ended a known attempt
        self._rx, self._tx = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._rx.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._rx.setblocking(False)
        self._early: dict[int, tuple[float, dict]] = {}  # pid -> (when, message): pid not known yet
        asyncio.get_running_loop().add_reader(self._rx.fileno(), self._read)

    @property
    def fd(self) -> int:
        """The writing end, for the fork servers to inherit."""
        return self._tx.fileno()

    def _read(self) -> None:
        while True:
            try:
                data, anc, _, _ = self._rx.recvmsg(65536, socket.CMSG_SPACE(_UCRED.size))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # never expected on a socket pair we hold both ends of
                log.warning("the attempts' report socket failed: %s", exc)
                return
            pid = next((_UCRED.unpack(d[:_UCRED.size])[0] for level, kind, d in anc
                        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS), 0)
            try:
                msg = json.loads(data)
            except ValueError:
                continue
            if not pid or not isinstance(msg, dict):
                continue
            if not self._on_report(pid, msg):
                now = time.monotonic()
                self._early = {p: e for p, e in self._early.items() if now - e[0] < _EARLY_KEEP}
                self._early[pid] = (now, msg)

    def take(self, pid: int) -> dict | None:
        """The report `pid` sent before the plugin knew it (then it is forgotten here)."""
        early = self._early.pop(pid, None)
        return early[1] if early is not None and time.monotonic() - early[0] < _EARLY_KEEP else None

    def forget(self, pid: int) -> None:
        """`pid` exited: a report it left here can never be claimed."""
        self._early.pop(pid, None)

    def close(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self._rx.fileno())
        except RuntimeError:
            pass
        self._rx.close()
        self._tx.close()
