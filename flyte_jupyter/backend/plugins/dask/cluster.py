"""One action's Dask cluster on this machine: a scheduler and its workers as processes.

Each process runs in its own process group under `guard` (SIGKILLed when the backend ends, even
by SIGKILL), its output in a log file beside the attempt's logs. Workers run without a nanny, so
a worker that dies stays dead and the plugin sees it (a nanny would restart it behind our back).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import time
from typing import Callable

from flyte_jupyter.backend.plugins.local.procfs import killpg

_START_TIMEOUT = 60.0


@dataclasses.dataclass(frozen=True)
class ClusterPlan:
    """What build() makes of a dask attempt: the processes to start."""

    python: str
    workers: int
    threads_per_worker: int
    memory_limit: str  # "0" = no limit (distributed's spelling)
    log_path: str
    scheduler_file: str


class LocalCluster:
    """A started cluster: `address`, `dashboard`, and `stop()` (idempotent, waits for every process)."""

    def __init__(self, plan: ClusterPlan) -> None:
        self.plan = plan
        self.address = ""
        self.dashboard = ""
        self.scheduler: asyncio.subprocess.Process | None = None
        self.workers: list[asyncio.subprocess.Process] = []
        self.stopping = False
        self._watch: asyncio.Task | None = None

    async def _spawn(self, *args: str) -> asyncio.subprocess.Process:
        os.makedirs(os.path.dirname(self.plan.log_path), exist_ok=True)
        with open(self.plan.log_path, "ab") as log:
            return await asyncio.create_subprocess_exec(
                self.plan.python, "-m", "flyte_jupyter.backend.plugins.dask.guard", str(os.getpid()), "--",
                self.plan.python, *args, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)

    async def start(self, on_worker_lost: Callable[[str], None]) -> None:
        """Start the scheduler and the workers at once (the workers find the scheduler through its
        file, so their imports overlap), then wait until every worker has joined."""
        try:
            os.unlink(self.plan.scheduler_file)
        except FileNotFoundError:
            pass
        self.scheduler = await self._spawn(
            "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
            "--dashboard-address", "127.0.0.1:0", "--scheduler-file", self.plan.scheduler_file)
        for i in range(self.plan.workers):
            self.workers.append(await self._spawn(
                "-m", "distributed.cli.dask_worker", "--scheduler-file", self.plan.scheduler_file, "--no-nanny",
                "--name", f"worker-{i}", "--nthreads", str(self.plan.threads_per_worker),
                "--memory-limit", self.plan.memory_limit, "--host", "127.0.0.1", "--no-dashboard"))
        info = await self._scheduler_info()
        self.address = info["address"]
        port = (info.get("services") or {}).get("dashboard")
        self.dashboard = f"http://127.0.0.1:{port}/status" if port else ""
        await self._wait_for_workers()
        self._watch = asyncio.get_running_loop().create_task(self._watch_workers(on_worker_lost))

    async def _scheduler_info(self) -> dict:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.scheduler is not None and self.scheduler.returncode is not None:
                raise RuntimeError(f"the Dask scheduler exited with {self.scheduler.returncode} at start; "
                                   f"see {self.plan.log_path} (is `distributed` installed in the task's image? "
                                   "pip install flyte-jupyter[dask])")
            try:
                with open(self.plan.scheduler_file) as fh:
                    info = json.load(fh)
                if info.get("address"):
                    return info
            except (OSError, ValueError):
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"the Dask scheduler did not start within {_START_TIMEOUT:g} s; see {self.plan.log_path}")

    async def _wait_for_workers(self) -> None:
        """Until every worker has registered with the scheduler (its log says so), or one died."""
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            dead = [w for w in self.workers if w.returncode is not None]
            if dead:
                raise RuntimeError(f"a Dask worker exited with {dead[0].returncode} at start; see {self.plan.log_path}")
            try:
                with open(self.plan.log_path, "rb") as fh:
                    joined = fh.read().count(b"Registered to:")
            except OSError:
                joined = 0
            if joined >= len(self.workers):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"the Dask workers did not join within {_START_TIMEOUT:g} s; see {self.plan.log_path}")

    async def _watch_workers(self, on_worker_lost: Callable[[str], None]) -> None:
        waits = {asyncio.ensure_future(w.wait()): i for i, w in enumerate(self.workers)}
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for fut in waits:
            if fut not in done:
                fut.cancel()
        if self.stopping:
            return
        index = waits[next(iter(done))]
        code = self.workers[index].returncode
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        on_worker_lost(f"Dask worker-{index} {how} while the action ran; the attempt is lost "
                       "(retried by the task's retry policy)")

    async def stop(self) -> None:
        """End every process of the cluster at once (SIGKILL to each group: a per-action cluster
        has nothing to save, and a graceful Dask shutdown takes seconds)."""
        self.stopping = True
        if self._watch is not None:
            self._watch.cancel()
        procs = [p for p in [*self.workers, self.scheduler] if p is not None]
        for proc in procs:
            if proc.returncode is None:
                killpg(proc.pid, signal.SIGKILL)
        await asyncio.gather(*(p.wait() for p in procs))
