"""The backend's end of the report socket: forked attempts say they ended, before their exit, and
ask for a link for their nested calls.

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

A link request is `{"link": true}` with one file descriptor (SCM_RIGHTS): the attempt's end of a
new stream socket pair, served by `link.serve_forked` with the authority of that attempt alone.
A descriptor that comes any other way, or that is not a Unix stream socket, is closed at once; one
from a pid not known yet waits like an early report, at most `_EARLY_LINKS` of them, and is closed
when it expires or its process exits, so a process cannot make the backend hold descriptors.
"""

from __future__ import annotations

import array
import asyncio
import json
import logging
import os
import socket
import struct
import time
from typing import Callable

log = logging.getLogger("flyte_jupyter.backend")

_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid
_EARLY_KEEP = 10.0  # seconds a report waits for its attempt's pid to be known
_EARLY_LINKS = 64  # link requests kept at once for pids not known yet (the oldest goes first)
_MAX_FDS = 4  # descriptors read from one datagram; the kernel closes any beyond (MSG_CTRUNC)
_FD_SIZE = array.array("i").itemsize


class Reports:
    """One datagram socket pair: attempts write to `fd` (inherited through the fork servers), the
    backend reads the other end on its loop and calls `on_report(pid, message)`, or for a link
    request `on_link(pid, socket)`; each returns True if it knew the attempt."""

    def __init__(self, on_report: Callable[[int, dict], bool],
                 on_link: Callable[[int, socket.socket], bool]) -> None:
        self._on_report = on_report  # True if the report ended a known attempt
        self._on_link = on_link  # True if it took the socket (serves or closes it)
        self._rx, self._tx = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._rx.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._rx.setblocking(False)
        self._early: dict[int, tuple[float, dict]] = {}  # pid -> (when, message): pid not known yet
        self._early_links: dict[int, tuple[float, socket.socket]] = {}  # likewise, link requests
        asyncio.get_running_loop().add_reader(self._rx.fileno(), self._read)

    @property
    def fd(self) -> int:
        """The writing end, for the fork servers to inherit."""
        return self._tx.fileno()

    def _read(self) -> None:
        while True:
            try:
                data, anc, _, _ = self._rx.recvmsg(65536, socket.CMSG_SPACE(_UCRED.size)
                                                   + socket.CMSG_SPACE(_MAX_FDS * _FD_SIZE))
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # never expected on a socket pair we hold both ends of
                log.warning("the attempts' report socket failed: %s", exc)
                return
            pid, fds = 0, array.array("i")
            for level, kind, d in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = _UCRED.unpack(d[:_UCRED.size])[0]
                elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(d[:len(d) - len(d) % fds.itemsize])
            try:
                msg = json.loads(data)
            except ValueError:
                msg = None
            if fds:
                self._link_request(pid, msg, list(fds))
            elif pid and isinstance(msg, dict) and not self._on_report(pid, msg):
                now = time.monotonic()
                self._early = {p: e for p, e in self._early.items() if now - e[0] < _EARLY_KEEP}
                self._early[pid] = (now, msg)

    def _link_request(self, pid: int, msg: object, fds: list[int]) -> None:
        """Descriptors came: one Unix stream socket with `{"link": true}` is a link request, anything
        else is closed (see the module docstring)."""
        sock = None
        if pid and msg == {"link": True} and len(fds) == 1:
            try:
                sock = socket.socket(fileno=fds[0])
                fds.clear()  # the socket owns it now
            except OSError:  # not a socket at all: closed below
                pass
            if sock is not None and (sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM):
                sock.close()
                sock = None
        for fd in fds:
            os.close(fd)
        if sock is None:
            log.warning("process %s sent descriptors on the report socket that are not a link request; closed", pid)
            return
        if self._on_link(pid, sock):
            return
        now = time.monotonic()
        for p, (when, old) in list(self._early_links.items()):
            if now - when >= _EARLY_KEEP or len(self._early_links) >= _EARLY_LINKS or p == pid:
                old.close()
                del self._early_links[p]
        self._early_links[pid] = (now, sock)

    def take(self, pid: int) -> dict | None:
        """The report `pid` sent before the plugin knew it (then it is forgotten here)."""
        early = self._early.pop(pid, None)
        return early[1] if early is not None and time.monotonic() - early[0] < _EARLY_KEEP else None

    def take_link(self, pid: int) -> socket.socket | None:
        """The link `pid` asked for before the plugin knew it (then it is the caller's)."""
        early = self._early_links.pop(pid, None)
        if early is None:
            return None
        if time.monotonic() - early[0] < _EARLY_KEEP:
            return early[1]
        early[1].close()
        return None

    def forget(self, pid: int) -> None:
        """`pid` exited: a report or link it left here can never be claimed."""
        self._early.pop(pid, None)
        early = self._early_links.pop(pid, None)
        if early is not None:
            early[1].close()

    def close(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self._rx.fileno())
        except RuntimeError:
            pass
        for _, sock in self._early_links.values():
            sock.close()
        self._early_links.clear()
        self._rx.close()
        self._tx.close()
