"""The backend's end of a fork server (`zygote.py`): start it, ask it to fork, read exits.

A fork server (and each bundle template) is infrastructure: it ends with the backend (socket EOF,
and PR_SET_PDEATHSIG: the backend passes its pid). A spawn still unanswered when the server goes
away fails with `ForkServerLost`; the plugin then finds out whether the fork happened (see
`LocalProcessPlugin._adopt`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from flyte_jupyter.backend.plugins.local.process import AttemptProc

if TYPE_CHECKING:  # the plugin owns these; imported only for the type hints
    from flyte_jupyter.backend.plugins.local.plugin import LocalProcessPlugin

log = logging.getLogger("flyte_jupyter.backend")


class ForkServerLost(OSError):
    """The fork server went away before it answered a spawn. `asked`: the request had been sent,
    so the fork may or may not have happened; else nothing was asked of it."""

    def __init__(self, message: str, asked: bool = False) -> None:
        super().__init__(message)
        self.asked = asked


class ForkServer:
    """The backend's end of one fork server."""

    def __init__(self, plugin: "LocalProcessPlugin", python: str, template_key: tuple | None = None) -> None:
        self.plugin = plugin
        self.python = python
        self.template_key = template_key  # set for a bundle template (see `_zygote._template_child`)
        self.proc: asyncio.subprocess.Process | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.ctl: socket.socket | None = None  # the control socket (sockets for workers/templates)
        self._pending: dict[int, tuple[asyncio.Future, AttemptProc | None]] = {}  # None: a worker/template
        self._next = 0
        self.alive = False
        self.pid = 0  # the server's own pid, from its ready message
        self.live: set[int] = set()  # pids forked by this server that have not exited yet
        self.last_used = time.monotonic()

    async def start(self, timeout: float = 60.0) -> None:
        ours, theirs = socket.socketpair()
        self.ctl, ctl_theirs = socket.socketpair()
        log_path = self.plugin.data_dir / "zygote.log"
        report = self.plugin.report_fd()  # where attempts say they ended (see `zygote`)
        with open(log_path, "ab") as logf:
            self.proc = await asyncio.create_subprocess_exec(
                self.python, "-m", "flyte_jupyter.backend.plugins.local.zygote", str(theirs.fileno()),
                str(ctl_theirs.fileno()), str(os.getpid()), str(report),
                pass_fds=(theirs.fileno(), ctl_theirs.fileno()) + ((report,) if report >= 0 else ()),
                stdin=asyncio.subprocess.DEVNULL, stdout=logf, stderr=logf,
            )
        theirs.close()
        ctl_theirs.close()
        await self._connect(ours, timeout, log_path)

    async def start_template(self, parent: "ForkServer", argv: list[str], env: dict[str, str], cwd: str,
                             timeout: float = 60.0) -> None:
        """Fork this server from `parent` as a template that has loaded one bundle's task module."""
        ours, theirs = socket.socketpair()
        try:
            await parent.spawn_on_socket(theirs, {"template": True, "argv": argv, "env": env, "cwd": cwd})
        finally:
            theirs.close()
        await self._connect(ours, timeout, self.plugin.data_dir / "zygote.log")

    async def _connect(self, ours: socket.socket, timeout: float, log_path: Path) -> None:
        reader, self.writer = await asyncio.open_unix_connection(sock=ours, limit=1 << 22)
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        except BaseException:
            self.writer.close()
            raise
        ready = json.loads(line) if line else {}
        if not ready.get("ready"):
            self.writer.close()
            raise RuntimeError(f"the fork server for {self.python} did not start; see {log_path}")
        self.pid = int(ready.get("pid") or 0)
        self.alive = True
        self._reader_task = asyncio.ensure_future(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                if "exit" in msg:
                    self.live.discard(msg["exit"])
                    self.plugin._exited(msg["exit"], msg["code"], msg.get("cpu"), msg.get("maxrss"))
                    continue
                if msg["id"] not in self._pending:
                    continue
                fut, proc = self._pending.pop(msg["id"])
                if "error" in msg:
                    fut.set_exception(OSError(msg["error"]))
                else:
                    if proc is not None:
                        proc.pid = msg["pid"]
                        self.live.add(proc.pid)
                        self.plugin._register(proc)
                    fut.set_result(msg["pid"])
        finally:
            self.alive = False
            for fut, _ in self._pending.values():
                if not fut.done():
                    fut.set_exception(ForkServerLost("the fork server stopped", asked=True))
            self._pending.clear()
            self.plugin._zygote_lost(self)

    async def spawn(self, proc: AttemptProc, argv: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str) -> int:
        self._next += 1
        req = {"id": self._next, "argv": argv, "env": env, "cwd": cwd, "stdout": stdout, "stderr": stderr}
        self._send(req)  # raises ForkServerLost if the server is gone: then nothing was asked of it
        fut = asyncio.get_running_loop().create_future()
        self._pending[self._next] = (fut, proc)
        return await fut

    async def spawn_worker(self, worker_sock: socket.socket, link: socket.socket, grpc: bool = False) -> int:
        """Fork a reusable worker serving `worker_sock`, its actions' nested calls on `link` (both
        passed to the zygote by SCM_RIGHTS); with `grpc`, one that imports grpc before it says it
        is ready."""
        return await self.spawn_on_socket(worker_sock, {"worker": True, "grpc": grpc}, link)

    async def spawn_on_socket(self, sock: socket.socket, req: dict, link: socket.socket | None = None) -> int:
        """Fork a long-lived server (worker or template) on `sock` (and a worker's `link`), passed
        by SCM_RIGHTS."""
        if self.ctl is None or not self.alive:
            raise ForkServerLost(f"the fork server for {self.python} stopped")
        socket.send_fds(self.ctl, [b"w"], [sock.fileno()] + ([link.fileno()] if link is not None else []))
        self._next += 1
        self._send({"id": self._next, **req})
        fut = asyncio.get_running_loop().create_future()
        self._pending[self._next] = (fut, None)
        return await fut

    def _send(self, req: dict) -> None:
        if not self.alive:
            raise ForkServerLost(f"the fork server for {self.python} stopped")
        if self.writer is None:  # set by start()/start_template() before the server is used
            raise RuntimeError(f"the fork server for {self.python} is not connected")
        self.writer.write(json.dumps(req).encode() + b"\n")

    async def close(self) -> None:
        """Close our end (the server exits on EOF; its running children are left alone) and, for
        the fork server process itself, wait until it is gone."""
        if self.writer is not None:
            self.writer.close()
        if self.ctl is not None:
            self.ctl.close()
        if self.proc is not None:
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
