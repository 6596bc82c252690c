"""Reusable workers: the backend's end of one warm worker process (`worker.py`) and the pool
per (interpreter, environment, version) that grows to `replicas` and reaps idle ones. A worker runs
one action at a time, or up to `concurrency` at once for async tasks (`ReusePolicy.concurrency`)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from flyte_jupyter.backend.plugins.local.link import LINE_LIMIT, ActionLink, BatchedLines
from flyte_jupyter.backend.plugins.local.process import AttemptProc
from flyte_jupyter.backend.plugins.local.procfs import start_time
from flyte_jupyter.backend.plugins.local.worker import shared_env

if TYPE_CHECKING:  # the plugin owns these; imported only for the type hints
    from flyte_jupyter.backend.plugins.local.plugin import LocalProcessPlugin

log = logging.getLogger("flyte_jupyter.backend")


class Worker:
    """The backend's end of one reusable worker (see `_worker`)."""

    def __init__(self, pool: "WorkerPool") -> None:
        self.pool = pool
        self.pid = 0
        self.start = ""
        self.proc: asyncio.subprocess.Process | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.running: dict[int, AttemptProc] = {}  # request id -> the attempt it runs
        self.concurrent = False  # the running actions share the worker (concurrency > 1)
        self.env: dict[str, str] | None = None  # their shared environment (see worker.shared_env)
        self.ready = False
        self.alive = True
        self.idle_since = time.monotonic()
        self._next = 0
        self._lines = BatchedLines()  # the requests of one turn of the loop go out in one write
        self.link: ActionLink | None = None  # its actions' nested calls (see `link`)
        self.retired = False  # takes no more actions, and goes once those it runs end (`retire`)
        self.home = ""  # its own directory (`home_of`), where its concurrent actions run

    async def spawn(self, python: str, log_path: Path, grpc: bool = False) -> None:
        ours, theirs = socket.socketpair()
        link_ours, link_theirs = socket.socketpair()  # its actions' nested calls (see `link`)
        try:
            await self._spawn(python, log_path, ours, theirs, link_ours, link_theirs, grpc)
        except BaseException:
            # A worker that did start sees EOF and exits.
            if self.writer is not None:
                self.writer.close()
            else:
                ours.close()
            if self.link is None:
                link_ours.close()
            raise
        finally:
            theirs.close()
            link_theirs.close()

    async def _spawn(self, python: str, log_path: Path, ours: socket.socket, theirs: socket.socket,
                     link_ours: socket.socket, link_theirs: socket.socket, grpc: bool) -> None:
        zygote = await self.pool.plugin._zygote(python)
        if zygote is not None:
            self.pid = await zygote.spawn_worker(theirs, link_theirs, grpc)  # a fork: ready in milliseconds
        else:
            fds = (theirs.fileno(), link_theirs.fileno())
            with open(log_path, "ab") as logf:
                self.proc = await asyncio.create_subprocess_exec(
                    python, "-m", "flyte_jupyter.backend.plugins.local.worker", *map(str, fds),
                    pass_fds=fds, stdin=asyncio.subprocess.DEVNULL, stdout=logf, stderr=logf,
                    start_new_session=True,
                )
            self.pid = self.proc.pid
        self.pool.plugin._workers_by_pid[self.pid] = self
        self.home = home_of(self.pool.plugin.data_dir, self.pid)
        reader, self.writer = await asyncio.open_unix_connection(sock=ours, limit=1 << 22)
        self._lines.writer = self.writer
        line = await asyncio.wait_for(reader.readline(), 60)
        if not line or not json.loads(line).get("ready"):
            raise RuntimeError(f"a reusable worker for {python} did not start; see {log_path}")
        self.start = start_time(self.pid) or "0"
        gateway = self.pool.plugin.children
        if gateway is not None:  # else (a plugin used without the backend's services) its calls go over gRPC
            self.link = ActionLink(self, gateway)
            link_reader, link_writer = await asyncio.open_unix_connection(sock=link_ours, limit=LINE_LIMIT)
            asyncio.ensure_future(self.link.serve(link_reader, link_writer))
        else:
            link_ours.close()
        self.ready = True
        asyncio.ensure_future(self._read(reader))
        if self.pool.plugin._closing:  # the backend began to stop while this worker started
            self.close()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        exited = False
        try:
            while True:
                line = await reader.readline()
                if not line:
                    exited = True  # its end closed: the worker is gone (a SIGKILL too)
                    break
                msg = json.loads(line)
                proc = self.running.pop(msg.get("id"), None)
                self.idle_since = time.monotonic()
                if proc is not None:
                    self.pool.plugin._limited.discard(proc)
                    if self.link is not None:
                        s = proc.spec
                        self.link.ended(s.project, s.domain, s.run_name, s.action_name)
                    proc.finish(msg.get("code", 1))
                if self.retired and not self.running:
                    self.close()
        finally:
            self.alive = False
            procs, self.running = list(self.running.values()), {}
            code = self.proc.returncode if self.proc is not None else self.pool.plugin._worker_exits.pop(self.pid, None)
            for proc in procs:
                self.pool.plugin._limited.discard(proc)
                proc.finish(code if code is not None else -9)
            self.pool.remove(self)
            if exited and self.home:  # a worker removes its own at exit, unless it was killed
                await asyncio.to_thread(shutil.rmtree, self.home, ignore_errors=True)  # off the loop: it may be big

    def run(self, proc: AttemptProc, argv: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str,
            concurrent: bool = False) -> None:
        """Send the worker one action (`concurrent`: beside those it runs, see worker.SharedLoop)."""
        if self.writer is None:  # set by spawn(); the pool hands out only workers that are ready
            raise RuntimeError(f"reusable worker {self.pid} is not connected")
        self._next += 1
        if not self.running:
            self.concurrent, self.env = concurrent, shared_env(env)
        self.running[self._next] = proc
        req = {"id": self._next, "argv": argv, "env": env, "cwd": cwd, "stdout": stdout, "stderr": stderr,
               "home": self.home}
        if concurrent:
            req["concurrent"] = True
        self._lines.send(json.dumps(req).encode() + b"\n")

    def request_of(self, proc: AttemptProc) -> int | None:
        return next((n for n, p in self.running.items() if p is proc), None)

    def cancel(self, proc: AttemptProc) -> bool:
        """Ask the worker to cancel one of the actions it runs at once; False if it runs alone
        (then it is stopped by killing the worker, which shares it with nothing)."""
        number = self.request_of(proc)
        if not self.concurrent or number is None or self.writer is None:
            return False
        self._lines.send(json.dumps({"cancel": number}).encode() + b"\n")  # after its request: order is kept
        return True

    def takes(self, env: dict[str, str], concurrency: int) -> bool:
        """Whether this worker can start an action with this environment now."""
        if not (self.ready and self.alive) or self.retired:
            return False
        if not self.running:
            return True
        return (concurrency > 1 and self.concurrent and len(self.running) < concurrency
                and self.env == shared_env(env))

    def describe(self) -> str:
        return f"reusable worker {self.pid}"

    def runs(self, project: str, domain: str, run: str, action: str) -> bool:
        """Whether the worker runs that action now (its link acts for those only)."""
        return any((s.project, s.domain, s.run_name, s.action_name) == (project, domain, run, action)
                   for s in (p.spec for p in self.running.values()))

    def link_closed(self) -> None:
        self.retire()

    def retire(self) -> None:
        """Take no more actions and go once those running end: a worker whose link closed would
        make every later nested call over gRPC; the pool starts a fresh one instead."""
        self.retired = True
        if not self.running:
            self.close()
        self.pool.remove(self)

    def close(self) -> None:
        if self.writer is not None:
            self._lines.flush()  # requests sent this turn go first: the worker finishes them, then exits
            self.writer.close()


def homes_root(data_dir: Path) -> Path:
    """The folder of the workers' homes (`work/_workers`: no project name starts with "_")."""
    return data_dir / "work" / "_workers"


def home_of(data_dir: Path, pid: int) -> str:
    """A worker's own directory: its cwd between actions and that of its concurrent actions (which
    share one process, so one cwd), instead of the directory the backend was started from."""
    return str(homes_root(data_dir) / str(pid))


def remove_stale_homes(data_dir: Path, live: set[int]) -> None:
    """After a restart: remove the homes of workers that are gone (killed with the backend, or
    just now as leftovers); a worker reattached as a running attempt keeps its own."""
    root = homes_root(data_dir)
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return
    for name in names:
        if not (name.isdigit() and int(name) in live):
            shutil.rmtree(root / name, ignore_errors=True)


class WorkerPool:
    """Reusable workers of one (interpreter, environment, version)."""

    def __init__(self, plugin: "LocalProcessPlugin", python: str, replicas: int, idle_ttl: float) -> None:
        self.plugin = plugin
        self.python = python
        self.replicas = max(1, replicas)
        self.idle_ttl = idle_ttl
        self.workers: list[Worker] = []

    def idle(self, env: dict[str, str] | None = None, concurrency: int = 1) -> Worker | None:
        """The least busy worker that can take an action now (one running nothing, or with
        `concurrency` > 1 one running fewer than that with the same environment)."""
        best = None
        for w in self.workers:
            if w.takes(env or {}, concurrency) and (best is None or len(w.running) < len(best.running)):
                best = w
                if not w.running:
                    break
        return best

    def all_busy(self) -> bool:
        return all(w.running for w in self.workers)

    def grow(self, grpc: bool = False) -> None:
        """Start one more worker in the background (until `replicas`); `grpc`: the environment's
        tasks call other tasks, so the worker imports grpc before it takes its first action."""
        if len(self.workers) >= self.replicas:
            return
        worker = Worker(self)
        self.workers.append(worker)

        async def start() -> None:
            try:
                await worker.spawn(self.python, self.plugin.data_dir / "workers.log", grpc)
            except Exception:  # noqa: BLE001 - actions fall back to the fork server
                log.exception("reusable worker failed to start")
                self.remove(worker)

        asyncio.ensure_future(start())

    def remove(self, worker: Worker) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        if not worker.alive and self.plugin._workers_by_pid.get(worker.pid) is worker:
            del self.plugin._workers_by_pid[worker.pid]

    def reap_idle(self) -> None:
        now = time.monotonic()
        for w in list(self.workers):
            if w.ready and not w.running and now - w.idle_since > self.idle_ttl:
                w.close()
                self.remove(w)
