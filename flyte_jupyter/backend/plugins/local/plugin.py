"""The embedded default plugin: every attempt is a local process running the entrypoint.

Processes come from a fork server (`_zygote`) per Python interpreter (the backend's own, or an
image's virtual environment), so a launch costs milliseconds. Each attempt gets its own process
group (timeout and abort kill the whole group), its own working directory, its env, and its
stdout/stderr in files under the attempt's log directory. A memory limit is enforced by watching
the resident size of the process group; crossing it kills the group and is reported as OOM.

Handles are "pid:starttime", so a restarted backend can tell a still-running attempt from a
recycled pid and reattach to it.

Lifetimes. The fork servers, bundle templates and idle reusable workers are infrastructure: they end
with the backend (the fork server by PR_SET_PDEATHSIG and socket EOF, a template by its fork
server's death, a worker by socket EOF; `close()` waits until they are gone). Attempts are not: they
outlive a backend that stops or dies, and the next start reattaches to them (`recover`, or `locate`
when the crash came before the attempt's handle was recorded: an attempt's stdout is its own log
file, so the process holding it is the attempt). Whatever of an earlier backend is left after
recovery (attempts of runs that ended, an old server) is killed by `recovered()`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import AsyncIterator

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.runtime.entrypoint import PRELOAD_GRPC_ENV
from flyte_jupyter.backend.executor.plugin import (
    ExecutorPlugin,
    LaunchSpec,
    LogLine,
    OutcomeKind,
    PluginConfig,
    PluginStatus,
    StatusCallback,
)
from flyte_jupyter.backend.plugins.local import podtemplate, procfs
from flyte_jupyter.backend.plugins.local import secrets as _secrets
from flyte_jupyter.backend.plugins.local.attempt import order_path_of
from flyte_jupyter.backend.plugins.local.forkserver import ForkServer, ForkServerLost
from flyte_jupyter.backend.plugins.local.link import serve_forked
from flyte_jupyter.backend.plugins.local.logread import OrderedLogs
from flyte_jupyter.backend.plugins.local.process import AttemptProc, stored_log
from flyte_jupyter.backend.plugins.local.procfs import (
    group_rss,
    killpg,
    start_time,
)
from flyte_jupyter.backend.plugins.local.reports import Reports
from flyte_jupyter.backend.plugins.local.workers import Worker, WorkerPool, remove_stale_homes
from flyte_jupyter.backend.plugins.logfiles import log_files

log = logging.getLogger("flyte_jupyter.backend")
_MEMORY_POLL = 0.05
_LOG_POLL = 0.1  # how often a followed log is read (partial lines wait for logread.QUIET besides)
_KILL_GRACE = 1.0
# Bundle templates (fork servers that have loaded one bundle's task module): at most this many,
# each retired after this long without a launch and without live children.
_MAX_TEMPLATES = 8
_TEMPLATE_IDLE = 60.0
# The env vars that differ between attempts (set in each child, not in the template).
# The token is per run; a Dask attempt's scheduler address is its own (plugins/dask).
_PER_ATTEMPT_ENV = ("FLYTE_JUPYTER_ATTEMPT", "FLYTE_JUPYTER_PARENT", "FLYTE_JUPYTER_TOKEN", "DASK_SCHEDULER_ADDRESS")
# How often a launch tries again when its fork server died before forking it.
_SPAWN_TRIES = 3
# How long close() waits for the fork servers, templates and idle workers to be gone.
_CLOSE_WAIT = 3.0


class LocalProcessPlugin(ExecutorPlugin):
    """Runs each attempt as a local process (see the module docstring)."""

    name = "local"
    task_types = ("python",)

    def __init__(self, config: PluginConfig) -> None:
        self.data_dir = Path(config.data_dir)
        self.settings = config.settings
        self.use_fork_server = bool(self.settings.get("fork_server", True)) and sys.platform.startswith("linux")
        self._zygotes: dict[str, ForkServer] = {}
        self._zygote_lock = asyncio.Lock()
        self._procs: dict[int, AttemptProc] = {}
        self._told_ignored: set[tuple[str, str]] = set()  # tasks whose ignored pod template fields were logged
        self._limited: set[AttemptProc] = set()
        self._monitor: asyncio.Task | None = None
        self._bundle_cache = str(self.data_dir / "bundles")
        self._pools: dict[tuple[str, str, str], WorkerPool] = {}
        self._workers_by_pid: dict[int, Worker] = {}
        self._closing = False
        self._worker_exits: dict[int, int] = {}
        self._reaper: asyncio.Task | None = None
        self.use_templates = self.use_fork_server and bool(self.settings.get("bundle_templates", True))
        self._templates: dict[tuple, ForkServer | None] = {}  # None: starting, or failed to start
        self._template_reaper: asyncio.Task | None = None
        self._holders: tuple[float, dict[str, procfs.ProcInfo]] | None = None  # a recent /proc scan
        self._elsewhere: tuple[float, dict[str, procfs.ProcInfo]] | None = None  # the same, machine-wide
        self._reports: Reports | None = None  # forked attempts say they ended here (`reports`)

    # -- processes ------------------------------------------------------------------------------

    def _python_for(self, image: str) -> str:
        if image and not image.startswith(("docker:", "oci:")):
            path = Path(image)
            for candidate in (path / "bin" / "python", path):
                if candidate.is_file() and os.access(candidate, os.X_OK):
                    return str(candidate)
        return sys.executable

    def _image_env(self, image: str) -> dict[str, str]:
        """A venv image's own env vars (`Image.with_env_vars`) plus its activation (VIRTUAL_ENV,
        PATH), as a delta over the backend's environment; {} for "auto" and non-venv images."""
        if not image or not os.path.isdir(image):
            return {}
        from flyte_jupyter._internal.runtime.venv_image import runtime_for_reference

        runtime = runtime_for_reference(image)  # a venv without its marker: a clear error
        if runtime is None:
            return {}
        return {k: v for k, v in runtime.environ().items() if os.environ.get(k) != v}

    async def _zygote(self, python: str) -> ForkServer | None:
        if not self.use_fork_server:
            return None
        zyg = self._zygotes.get(python)
        if zyg is not None and zyg.alive:
            return zyg
        async with self._zygote_lock:
            zyg = self._zygotes.get(python)
            if zyg is not None and zyg.alive:
                return zyg
            zyg = ForkServer(self, python)
            try:
                await zyg.start()
            except Exception:  # noqa: BLE001 - fall back to plain subprocesses
                log.exception("fork server for %s failed; using plain subprocesses", python)
                return None
            self._zygotes[python] = zyg
            return zyg

    def report_fd(self) -> int:
        """The socket forked attempts report their end on (made on the first fork server's start)."""
        if self._reports is None:
            self._reports = Reports(self._reported, self._linked)
        return self._reports.fd

    def _reported(self, pid: int, msg: dict) -> bool:
        """A forked attempt's result is in place (see `reports`): end it now, not at its exit.
        False if `pid` is not known yet (the report waits for its spawn's answer)."""
        proc = self._procs.get(pid)
        if proc is None:
            return False
        if msg.get("outputs") == proc.spec.outputs_path and isinstance(msg.get("code"), int):
            cpu, rss = msg.get("cpu"), msg.get("maxrss")
            proc.finish(msg["code"], cpu_seconds=float(cpu) if isinstance(cpu, (int, float)) else None,
                        peak_memory_bytes=int(rss) if isinstance(rss, (int, float)) else None)
        return True

    def _linked(self, pid: int, sock: socket.socket) -> bool:
        """A forked attempt asks for a link for its nested calls (see `link.serve_forked`).
        False if `pid` is not known yet (the request waits for its spawn's answer)."""
        proc = self._procs.get(pid)
        if proc is None:
            return False
        if self.children is None or proc.exited.is_set():  # no gateway, or too late: its calls use gRPC
            sock.close()
        else:
            serve_forked(proc, sock, self.children)
        return True

    def _claim_early_report(self, proc: AttemptProc) -> None:
        """A report, or a link request, that came before the fork server's answer with the
        attempt's pid."""
        if self._reports is None or not proc.pid or self._procs.get(proc.pid) is not proc:
            return
        sock = self._reports.take_link(proc.pid)
        if sock is not None:
            self._linked(proc.pid, sock)
        early = self._reports.take(proc.pid)
        if early is not None:
            self._reported(proc.pid, early)

    def _register(self, proc: AttemptProc) -> None:
        self._procs[proc.pid] = proc
        proc.pids.add(proc.pid)
        proc.start = start_time(proc.pid) or "0"
        if proc.spec.memory_bytes:
            self._limited.add(proc)
            if self._monitor is None or self._monitor.done():
                self._monitor = asyncio.ensure_future(self._watch_memory())

    # -- bundle templates --------------------------------------------------------------------------

    def _template_for(self, python: str, loader: dict[str, str], env: dict[str, str]) -> ForkServer | None:
        """The ready template for this action's bundle, or None (then the action is forked from the
        plain fork server, and a template starts in the background for the next ones)."""
        if not self.use_templates:
            return None
        if not (loader.get("--pkl") or (loader.get("--tgz") and loader.get("--dest", ".") in (".", ""))):
            return None  # nothing shared between actions to preload
        static = {k: v for k, v in env.items() if k not in _PER_ATTEMPT_ENV}
        bundle = ("--pkl", loader["--pkl"]) if loader.get("--pkl") else ("--tgz", loader["--tgz"], loader.get("--module-name"))
        key = (python, bundle, tuple(sorted(static.items())))
        if key in self._templates:
            tmpl = self._templates[key]
            if tmpl is not None and tmpl.alive:
                tmpl.last_used = time.monotonic()
                return tmpl
            return None
        if len(self._templates) >= _MAX_TEMPLATES and not self._retire_templates(force_one=True):
            return None
        self._templates[key] = None
        argv = ["a0", "--inputs", "-", "--outputs-path", "-", "--run-name", "-", "--name", "-"]
        for flag, value in loader.items():
            argv += [flag, value]
        cwd = str(self.data_dir / "work" / "_templates")
        asyncio.ensure_future(self._start_template(key, python, argv, static, cwd))
        return None

    async def _start_template(self, key: tuple, python: str, argv: list[str], env: dict[str, str], cwd: str) -> None:
        parent = await self._zygote(python)
        if parent is None:
            return
        tmpl = ForkServer(self, python, template_key=key)
        try:
            await tmpl.start_template(parent, argv, env, cwd)
        except ForkServerLost:
            self._templates.pop(key, None)  # its fork server died: try again with the next one
            return
        except Exception as exc:  # noqa: BLE001 - actions keep using the plain fork server
            log.warning("no bundle template for %s (actions are forked without it): %s", key[1], exc)
            return  # the key stays None: not tried again while this backend runs
        if self._closing or key not in self._templates:
            await tmpl.close()
            return
        self._templates[key] = tmpl
        if self._template_reaper is None or self._template_reaper.done():
            self._template_reaper = asyncio.ensure_future(self._reap_templates())

    def _retire_templates(self, force_one: bool = False) -> bool:
        """Close idle templates (no launch for a while, no live children); with `force_one`, the
        least recently used idle one even if recent. True if one was closed."""
        now = time.monotonic()
        idle = sorted(((t.last_used, k) for k, t in self._templates.items() if t is not None and not t.live),
                      key=lambda item: item[0])
        closed = False
        for last_used, key in idle:
            if now - last_used > _TEMPLATE_IDLE or (force_one and not closed):
                tmpl = self._templates.pop(key)
                if tmpl is not None:  # always: `idle` holds only started templates
                    asyncio.ensure_future(tmpl.close())
                closed = True
        return closed

    async def _reap_templates(self) -> None:
        while any(t is not None for t in self._templates.values()):
            await asyncio.sleep(5.0)
            self._retire_templates()

    def _zygote_lost(self, zygote: "ForkServer") -> None:
        """The fork server died: its children are orphans now; watch them by polling."""
        if zygote.template_key is not None:
            if self._templates.get(zygote.template_key) is zygote:
                del self._templates[zygote.template_key]
        elif self._zygotes.get(zygote.python) is zygote:
            del self._zygotes[zygote.python]
        if self._closing:
            return  # shutting down: the next start reattaches to them
        for proc in list(self._procs.values()):
            if getattr(proc, "zygote", None) is zygote and not proc.exited.is_set():
                asyncio.ensure_future(self._poll_orphan(proc))

    def _exited(self, pid: int, code: int, cpu_seconds: float | None = None,
                maxrss_bytes: int | None = None) -> None:
        """A process ended; its parent (the fork server) measured its CPU time and peak RSS."""
        if pid in self._workers_by_pid:
            self._worker_exits[pid] = code
        if self._reports is not None:
            self._reports.forget(pid)
        proc = self._procs.pop(pid, None)
        if proc is not None:
            self._limited.discard(proc)
            proc.finish(code, cpu_seconds=cpu_seconds, peak_memory_bytes=maxrss_bytes)  # no-op if it reported

    async def launch(self, spec: LaunchSpec, on_status: StatusCallback) -> str:
        if self._closing:
            # The backend is stopping: start nothing. The executor records an attempt only when
            # its launch returns, so this one stays queued for the next start.
            await asyncio.Event().wait()
        spec, ignored = podtemplate.apply(spec)
        if ignored and (spec.task_name, spec.task_version) not in self._told_ignored:
            self._told_ignored.add((spec.task_name, spec.task_version))
            log.warning("task %s: %s", spec.task_name, podtemplate.notice(ignored))
        python = self._python_for(spec.image)
        # The fork server inherited the backend's environment: send only what the action adds.
        shared = {**self._image_env(spec.image), **spec.env, "FLYTE_JUPYTER_BUNDLE_CACHE": self._bundle_cache,
                  "PYTHONUNBUFFERED": "1"}
        if spec.secrets:
            on_status = _removing_secrets(spec, on_status)
        env = {**shared, **_secrets.secret_env(spec)} if spec.secrets else shared
        stdout, stderr = log_files(spec)
        proc = AttemptProc(spec, on_status)
        if spec.reuse:
            worker = self._worker_for(python, spec, env)
            if worker is not None:
                proc.pid = worker.pid
                proc.start = worker.start
                proc.pids.add(worker.pid)
                self._workers_by_pid[worker.pid] = worker
                if spec.memory_bytes:
                    self._limited.add(proc)
                    if self._monitor is None or self._monitor.done():
                        self._monitor = asyncio.ensure_future(self._watch_memory())
                worker.run(proc, list(spec.args), env, spec.workdir, stdout, stderr,
                           concurrent=_concurrency(spec) > 1)
                return f"{worker.pid}:{worker.start}"
        zyg = self._template_for(python, spec.loader, shared) or await self._zygote(python)
        tries = 0
        while zyg is not None:
            tries += 1
            proc.zygote = zyg
            try:
                await zyg.spawn(proc, list(spec.args), env, spec.workdir, stdout, stderr)
                # After the executor has recorded the launch (this task's next step), not before.
                asyncio.get_running_loop().call_soon(self._claim_early_report, proc)
                return f"{proc.pid}:{proc.start}"
            except ForkServerLost as lost:
                # The fork server (or template) died under this request. If it forked the
                # child, the child holds the attempt's stdout log: adopt it, never start a second.
                if lost.asked:
                    handle = await self._adopt(proc, zyg)
                    what = ("it never forked, starting it again" if handle is None
                            else f"adopted its process {proc.pid}" if proc.pid else "it forked and ended already")
                    log.warning("the fork server died while starting %s/%s attempt %d: %s", spec.run_name,
                                spec.action_name, spec.attempt, what)
                    if handle is not None:
                        return handle
                if tries >= _SPAWN_TRIES:
                    raise
                proc.zygote = None
                zyg = await self._zygote(python)
        # No fork server: a plain subprocess.
        os.makedirs(spec.workdir, exist_ok=True)
        os.makedirs(os.path.dirname(stdout), exist_ok=True)
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            child = await asyncio.create_subprocess_exec(
                python, *spec.entrypoint_command, cwd=spec.workdir, env={**os.environ, **env}, stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True,
            )
        proc.pid = child.pid
        self._register(proc)
        asyncio.ensure_future(self._wait_child(child))
        return f"{proc.pid}:{proc.start}"

    async def _adopt(self, proc: AttemptProc, server: ForkServer) -> str | None:
        """After `server` died with our spawn request unanswered: the handle of the child it forked
        (now watched by polling, or already ended: then its result is read), or None when it never
        forked (then the launch asks a new server)."""
        stdout, stderr = log_files(proc.spec)
        if not os.path.exists(stdout):
            return None  # the server creates the stdout log right before it forks
        holders = [info for info in procfs.scan(os.path.dirname(stdout), all_fds=True)
                   if info.pid != server.pid and stdout in info.fds.values()]
        if holders:
            child = min(holders, key=lambda info: (not info.leader, info.pid))
            proc.pid = child.pid
            self._register(proc)
        elif not os.path.exists(stderr):
            return None  # the child opens its stderr log first thing: it never came to be
        asyncio.ensure_future(self._poll_orphan(proc))  # gone already: reads its result, or lost
        return f"{proc.pid}:{proc.start or 0}"

    def _worker_for(self, python: str, spec: LaunchSpec, env: dict[str, str]) -> Worker | None:
        """A warm worker for the spec's environment with room for the action (idle, or with
        `concurrency` > 1 running fewer than that), or None (then the fork server runs the
        action, and the pool grows in the background: a parent waiting on children in the same
        environment can never starve them)."""
        key = (python, spec.environment, spec.task_version)
        pool = self._pools.get(key)
        if pool is None:
            reuse = spec.reuse or {}
            pool = self._pools[key] = WorkerPool(self, python, int(reuse.get("replicas") or 1),
                                            float(reuse.get("idle_ttl") or 30.0))
            if self._reaper is None or self._reaper.done():
                self._reaper = asyncio.ensure_future(self._reap())
        worker = pool.idle(env, _concurrency(spec))
        if worker is None or worker.running:
            pool.grow(grpc=spec.env.get(PRELOAD_GRPC_ENV) == "1")  # every worker has work: one more, up to `replicas`
        return worker

    async def _reap(self) -> None:
        while self._pools:
            await asyncio.sleep(1.0)
            for pool in list(self._pools.values()):
                pool.reap_idle()

    async def _wait_child(self, child: asyncio.subprocess.Process) -> None:
        code = await child.wait()
        self._exited(child.pid, code)

    async def _watch_memory(self) -> None:
        while self._limited:
            for proc in list(self._limited):
                if proc.exited.is_set():
                    self._limited.discard(proc)
                    continue
                rss = group_rss(proc.pid, proc.pids)
                limit = proc.spec.memory_bytes  # set: only procs with a memory limit are in _limited
                if limit is not None and rss > limit and not proc.oom:
                    proc.oom = True
                    self._limited.discard(proc)
                    killpg(proc.pid, signal.SIGKILL)
            await asyncio.sleep(_MEMORY_POLL)

    async def abort(self, handle: str, spec: LaunchSpec, reason: str = "") -> None:
        pid = int(handle.split(":", 1)[0])
        worker = self._workers_by_pid.get(pid)
        if worker is not None and worker.alive:
            busy = next((p for p in worker.running.values() if _same_attempt(p.spec, spec)), None)
            if busy is None:
                return  # it ended already: the worker is idle or runs other actions
            busy.aborted = True
            if worker.cancel(busy):
                # It shares the worker with other actions: cancel it alone. An action that does
                # not give its loop back (a blocking call) gets the worker killed after a grace.
                try:
                    await asyncio.wait_for(busy.exited.wait(), _KILL_GRACE)
                    return
                except asyncio.TimeoutError:
                    log.warning("action %s/%s did not stop when cancelled; killing its worker %d (its other "
                                "actions are retried as lost)", spec.run_name, spec.action_name, pid)
            # The action shares its process with nothing else at this moment: stop the worker.
            killpg(pid, signal.SIGKILL)
            try:
                await asyncio.wait_for(busy.exited.wait(), 5)
            except asyncio.TimeoutError:
                busy.finish(None, OutcomeKind.LOST, "the worker did not exit after SIGKILL")
            return
        proc = self._procs.get(pid)
        if proc is not None:
            proc.aborted = True
        elif start_time(pid) != handle.split(":", 1)[1]:
            return  # already gone (or the pid was recycled): nothing of ours to stop
        killpg(pid, signal.SIGTERM)
        if proc is not None:
            try:
                await asyncio.wait_for(proc.exited.wait(), _KILL_GRACE)
                return
            except asyncio.TimeoutError:
                pass
        else:
            await asyncio.sleep(0.05)
        killpg(pid, signal.SIGKILL)
        if proc is not None:
            try:
                await asyncio.wait_for(proc.exited.wait(), 5)
            except asyncio.TimeoutError:
                proc.finish(None, OutcomeKind.LOST, "the process did not exit after SIGKILL")

    async def recover(self, spec: LaunchSpec, handle: str, on_status: StatusCallback) -> bool:
        spec, _ = podtemplate.apply(spec)  # the limits it ran under, a pod template's included
        try:
            pid_text, start = handle.split(":", 1)
            pid = int(pid_text)
        except ValueError:
            return False
        if start_time(pid) != start:
            _secrets.remove_files(spec)  # the attempt is gone: so are the secret files it had
            return False
        # The attempt outlived a backend restart: its secret files go when it ends, as they would have.
        proc = AttemptProc(spec, _removing_secrets(spec, on_status))
        proc.pid = pid
        proc.start = start
        proc.pids.add(pid)
        self._procs[pid] = proc
        if spec.memory_bytes:
            self._limited.add(proc)
            if self._monitor is None or self._monitor.done():
                self._monitor = asyncio.ensure_future(self._watch_memory())
        asyncio.ensure_future(self._poll_orphan(proc))
        return True

    async def locate(self, spec: LaunchSpec) -> str | None:
        """An attempt whose handle was never recorded: the handle of the live process writing its
        stdout log (a session leader: the attempt, or the worker running it); else "" if it
        started and is gone (its stderr log exists: the child, the worker or the launch creates
        that), else None: it never started."""
        stdout, stderr = log_files(spec)
        if not os.path.exists(stdout):
            return self._locate_elsewhere(stdout)
        info = self._log_holders().get(stdout)
        if info is not None:
            return f"{info.pid}:{info.start}"
        return "" if os.path.exists(stderr) else None

    def _locate_elsewhere(self, stdout: str) -> str | None:
        """The attempt may have been started by another replica on this machine (its data dir,
        its logs) that died before recording it: the live session leader whose stdout is the same
        attempt's log under any data dir's `logs/` (run names are unique), else None."""
        try:
            suffix = "/logs/" + os.path.relpath(stdout, self.data_dir / "logs")
        except ValueError:
            return None
        now = time.monotonic()
        if self._elsewhere is None or now - self._elsewhere[0] > 1.0:  # one /proc scan a second
            found = {}
            for info in procfs.scan("/"):
                path = info.fds.get(1, "")
                at = path.rfind("/logs/")
                if info.leader and at >= 0:
                    found[path[at:]] = info
            self._elsewhere = (now, found)
        holder = self._elsewhere[1].get(suffix)
        return f"{holder.pid}:{holder.start}" if holder is not None else None

    def _log_holders(self) -> dict[str, procfs.ProcInfo]:
        """Attempt log file -> the session leader writing it (one /proc scan a second): its stdout,
        or any fd of a warm worker running actions concurrently (each has its log open as a file)."""
        now = time.monotonic()
        if self._holders is None or now - self._holders[0] > 1.0:
            holders: dict[str, procfs.ProcInfo] = {}
            for info in procfs.scan(str(self.data_dir / "logs"), all_fds=True):
                if not info.leader:
                    continue
                for fd, path in sorted(info.fds.items()):
                    if fd == 1 or path.endswith(".stdout"):
                        holders.setdefault(path, info)
            self._holders = (now, holders)
        return self._holders[1]

    async def recovered(self) -> None:
        """Recovery is over: kill what an earlier backend on this data dir left and nobody
        reattached (attempts of runs that ended, an attempt found lost, an old fork server,
        template or worker). Processes this backend started, and every process in the session of
        a reattached attempt, are left alone."""
        self._holders = self._elsewhere = None
        _secrets.remove_stale(str(self.data_dir / "work"), {p.spec.workdir for p in self._procs.values()})
        mine = int(start_time(os.getpid()) or 0)
        keep = set(self._procs) | set(self._workers_by_pid)
        keep |= {z.pid for z in self._zygotes.values()} | {t.pid for t in self._templates.values() if t is not None}
        ours = (str(self.data_dir / "logs") + "/", str(self.data_dir / "zygote.log"), str(self.data_dir / "workers.log"))
        for info in procfs.scan(str(self.data_dir)):
            if not mine or int(info.start) >= mine or keep & {info.pid, info.pgrp, info.session}:
                continue
            if not any(path.startswith(ours) for path in info.fds.values()):
                continue
            log.warning("killing process %d left by an earlier backend (%s)", info.pid, ", ".join(sorted(set(info.fds.values()))))
            if info.leader:
                killpg(info.pid, signal.SIGKILL)
            else:
                try:
                    os.kill(info.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        remove_stale_homes(self.data_dir, keep)

    async def _poll_orphan(self, proc: AttemptProc) -> None:
        """A process from before a restart is not our child: poll until it is gone, then read its
        result from storage (outputs.pb means it succeeded)."""
        while start_time(proc.pid) == proc.start and not proc.exited.is_set():
            await asyncio.sleep(0.1)
        self._procs.pop(proc.pid, None)
        self._limited.discard(proc)
        if _storage.exists(_storage.join(proc.spec.outputs_path, "outputs.pb")):
            proc.finish(0)
        elif _storage.exists(_storage.join(proc.spec.outputs_path, "error.pb")):
            proc.finish(1)
        else:
            proc.finish(None, OutcomeKind.LOST)

    async def logs(self, spec: LaunchSpec, handle: str | None, follow: bool = False) -> AsyncIterator[LogLine]:
        """stdout and stderr in the order written, partial lines included (see `logread`); a pod
        template's ignored fields are said first. An attempt that ran on another replica (or
        machine) has no local files: its logs come from storage (uploaded when it ended)."""
        _, ignored = podtemplate.apply(spec)
        if ignored:  # the attempt's log says it first, every time it is read
            yield LogLine("stderr", f"flyte-jupyter: {podtemplate.notice(ignored)}", 0.0)
        out, err = log_files(spec)
        if not os.path.exists(out) and not os.path.exists(err) and not _storage.is_local(spec.outputs_path):
            async for stored in _stored_logs(spec):
                yield stored
            return
        reader = OrderedLogs({"stdout": out, "stderr": err}, order_path_of(out))
        pid = int(handle.split(":", 1)[0]) if handle else 0
        while True:
            running = follow and self._is_live(pid)
            for line in reader.poll(time.time(), final=not running):
                yield line
            if not running:
                return
            await asyncio.sleep(_LOG_POLL)

    def _is_live(self, pid: int) -> bool:
        if pid in self._procs:
            return True
        worker = self._workers_by_pid.get(pid)
        return worker is not None and worker.alive and bool(worker.running)

    async def close(self) -> None:
        """Stop the infrastructure and wait until it is gone: idle workers and templates exit on
        EOF (a template also when its fork server does), the fork servers are waited for. Running
        attempts, a busy worker's included, are left alone: the next start reattaches to them."""
        self._closing = True
        infra: list[tuple[int, str]] = []
        for pool in self._pools.values():
            for worker in pool.workers:
                if not worker.running and worker.pid:
                    infra.append((worker.pid, worker.start or start_time(worker.pid) or ""))
                worker.close()
        self._pools.clear()
        for tmpl in list(self._templates.values()):
            if tmpl is not None:
                infra.append((tmpl.pid, start_time(tmpl.pid) or ""))
                await tmpl.close()
        self._templates.clear()
        for zyg in list(self._zygotes.values()):
            await zyg.close()
        if self._reports is not None:
            self._reports.close()
            self._reports = None
        for task in (self._monitor, self._reaper, self._template_reaper):
            if task is not None:
                task.cancel()
        deadline = time.monotonic() + _CLOSE_WAIT
        left = [(pid, start) for pid, start in infra if pid and start]
        while left:
            left = [(pid, start) for pid, start in left if start_time(pid) == start]
            if not left or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        for pid, _ in left:
            log.warning("process %d did not exit with the backend; killing it", pid)
            killpg(pid, signal.SIGKILL)

    def describe(self) -> dict:
        return {"name": self.name, "fork_server": self.use_fork_server, "running": len(self._procs),
                "templates": sum(1 for t in self._templates.values() if t is not None),
                "workers": sum(len(p.workers) for p in self._pools.values())}


def _concurrency(spec: LaunchSpec) -> int:
    """How many actions of this spec's environment one warm worker runs at once (the SDK sends
    more than 1 only for async tasks)."""
    return max(1, int((spec.reuse or {}).get("concurrency") or 1))


def _same_attempt(a: LaunchSpec, b: LaunchSpec) -> bool:
    return (a.run_name, a.action_name, a.attempt, a.project, a.domain) == (b.run_name, b.action_name, b.attempt,
                                                                         b.project, b.domain)


async def _stored_logs(spec: LaunchSpec) -> AsyncIterator[LogLine]:
    for stream in ("stdout", "stderr"):
        uri = stored_log(spec, stream)
        try:
            data = await asyncio.to_thread(_storage.get_bytes, uri)
        except FileNotFoundError:
            continue
        now = time.time()
        for line in data.decode(errors="replace").splitlines():
            yield LogLine(stream, line, now)


def _removing_secrets(spec: LaunchSpec, on_status: StatusCallback) -> StatusCallback:
    """`on_status` that first removes the attempt's secret files when it reports the end."""
    def report(status: PluginStatus) -> None:
        if status.terminal:
            _secrets.remove_files(spec)
        on_status(status)

    return report
