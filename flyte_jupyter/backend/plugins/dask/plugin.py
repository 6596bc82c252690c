"""Runs a "dask" attempt: its cluster first, then the task's own code through the python executor
(the runner) with `DASK_SCHEDULER_ADDRESS` set, so `distributed.Client()` connects.

The cluster ends with the attempt: when the task's process ends, is aborted or times out, and when
a worker dies mid-task (the attempt is then lost, and retried by the task's policy). The cluster's
processes die with the backend; after a restart an attempt whose cluster is gone is stopped and
counted as lost (retried by its policy), never left running without its workers.

The dashboard link (when `bokeh` is installed for the scheduler) is written as `links.json` beside
the attempt's outputs, where views find it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys
from typing import TYPE_CHECKING, Any, AsyncIterator

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.runtime.action_links import LINKS_FILE
from flyte_jupyter._internal.wire.quantities import parse_cpu, parse_memory
from flyte_jupyter.backend.executor.plugin import (
    BuildError,
    ExecutorPlugin,
    LaunchSpec,
    LogLine,
    Outcome,
    OutcomeKind,
    PluginConfig,
    PluginStatus,
    StatusCallback,
)
from flyte_jupyter.backend.plugins.dask.cluster import ClusterPlan, LocalCluster

if TYPE_CHECKING:
    from flyte_jupyter.backend.plugins.dask.k8s import K8sCluster, K8sClusterPlan

log = logging.getLogger("flyte_jupyter.backend")
MAX_WORKERS = 256


@dataclasses.dataclass
class _Live:
    cluster: LocalCluster | K8sCluster
    spec: LaunchSpec  # the runner's spec (with the scheduler address)
    inner: str = ""
    lost: str = ""


class DaskPlugin(ExecutorPlugin):
    """See the module docstring."""

    name = "dask"
    task_types = ("dask",)

    def __init__(self, config: PluginConfig) -> None:
        if config.runner is None:
            raise ValueError("the dask plugin runs beside a python executor; load it with default_registry()")
        self.runner: Any = config.runner  # local or kubernetes: their own methods are used below
        self._live: dict[str, _Live] = {}

    def check_task(self, spec: Any) -> None:
        """At CreateRun: a config the plugin can run, beside an executor it can start a cluster by."""
        if self.runner.name not in ("local", "kubernetes"):
            raise ValueError(f"dask tasks run beside the local or the kubernetes executor; this backend runs "
                             f"python tasks with {self.runner.name!r}")
        custom = json.loads(spec.custom_json or "{}")
        _workers(custom, spec.id.name)
        check = getattr(self.runner, "check_task", None)
        if check is not None:  # the runner's own checks (a pod needs a container image)
            check(spec)

    def build(self, spec: LaunchSpec) -> ClusterPlan | K8sClusterPlan:
        try:
            workers = _workers(spec.custom, spec.task_name)
        except ValueError as exc:
            raise BuildError(str(exc), kind="DaskConfigError") from None
        if self.runner.name == "kubernetes":
            from flyte_jupyter.backend.plugins.dask import k8s

            try:
                return k8s.build(spec, self.runner.settings, self.runner.namespace(spec), workers)
            except ValueError as exc:
                raise BuildError(str(exc), kind="DaskConfigError") from None
        res = (spec.custom.get("workers") or {}).get("resources") or {}
        try:
            cpu = parse_cpu(res["cpu"]) if res.get("cpu") else None
            memory = parse_memory(res["memory"]) if res.get("memory") else None
        except ValueError as exc:
            raise BuildError(f"dask task {spec.task_name}: worker resources: {exc}", kind="DaskConfigError") from None
        python_for = getattr(self.runner, "_python_for", None)
        python = python_for(spec.image) if python_for is not None else sys.executable
        return ClusterPlan(python=python, workers=workers, threads_per_worker=max(1, int(cpu or 1)),
                           memory_limit=str(memory or 0), log_path=f"{spec.log_dir}.dask",
                           scheduler_file=f"{spec.log_dir}.dask-scheduler.json")

    def _cluster(self, plan: ClusterPlan | K8sClusterPlan) -> LocalCluster | K8sCluster:
        if isinstance(plan, ClusterPlan):
            return LocalCluster(plan)
        from flyte_jupyter.backend.plugins.dask.k8s import K8sCluster

        return K8sCluster(self.runner._ctl(), plan)

    async def launch(self, spec: LaunchSpec, on_status: StatusCallback) -> str:
        plan = spec.resource if spec.resource is not None else self.build(spec)
        cluster = self._cluster(plan)
        live = _Live(cluster, spec)
        try:
            await cluster.start(lambda why: self._worker_lost(live, why))
        except BaseException:
            await cluster.stop()
            raise
        if cluster.dashboard:
            _storage.put_bytes(_storage.join(spec.outputs_path, LINKS_FILE),
                               json.dumps({"Dask dashboard": cluster.dashboard}).encode())
        env = {**spec.env, "DASK_SCHEDULER_ADDRESS": cluster.address}
        live.spec = dataclasses.replace(spec, env=env, task_type="python", resource=None)
        try:
            live.inner = await self.runner.launch(live.spec, self._forward(live, on_status))
        except BaseException:
            await cluster.stop()
            raise
        scheduler = getattr(cluster, "scheduler", None)
        handle = f"dask:{scheduler.pid if scheduler is not None else 0}:{live.inner}"
        self._live[handle] = live
        return handle

    def _forward(self, live: _Live, on_status: StatusCallback) -> StatusCallback:
        """The runner's statuses passed on; the terminal one after the cluster is gone."""

        def forward(status: PluginStatus) -> None:
            if not status.terminal:
                on_status(status)
                return
            outcome = status.outcome
            if live.lost and outcome is not None and not outcome.succeeded:
                outcome = Outcome(OutcomeKind.LOST, message=live.lost)
            asyncio.get_running_loop().create_task(self._end(live, PluginStatus(outcome=outcome), on_status))

        return forward

    async def _end(self, live: _Live, status: PluginStatus, on_status: StatusCallback) -> None:
        await live.cluster.stop()
        for handle, known in list(self._live.items()):
            if known is live:
                del self._live[handle]
        on_status(status)

    def _worker_lost(self, live: _Live, why: str) -> None:
        log.warning("%s/%s: %s", live.spec.run_name, live.spec.action_name, why)
        live.lost = why
        if live.inner:
            asyncio.get_running_loop().create_task(self.runner.abort(live.inner, live.spec, "abort"))

    async def abort(self, handle: str, spec: LaunchSpec, reason: str = "") -> None:
        live = self._live.get(handle)
        inner = live.inner if live is not None else _inner(handle)
        if inner:
            await self.runner.abort(inner, live.spec if live is not None else spec, reason)
        if live is not None:
            await live.cluster.stop()

    def logs(self, spec: LaunchSpec, handle: str | None, follow: bool = False) -> AsyncIterator[LogLine]:
        return self.runner.logs(spec, _inner(handle) if handle else None, follow)

    async def recover(self, spec: LaunchSpec, handle: str, on_status: StatusCallback) -> bool:
        """Embedded: the cluster died with the old backend, so the task's process is stopped (the
        attempt is lost, retried by its policy). Kubernetes: the pods outlived it; the attempt is
        reattached and its cluster deleted when it ends (or now, when it is gone)."""
        inner = _inner(handle)
        plan = spec.resource if spec.resource is not None else self.build(spec)
        if isinstance(plan, ClusterPlan):
            if inner:
                await self.runner.abort(inner, spec, "")
            return False
        cluster = self._cluster(plan)
        live = _Live(cluster, dataclasses.replace(spec, task_type="python", resource=None), inner=inner)
        live.spec = dataclasses.replace(live.spec, env={**spec.env, "DASK_SCHEDULER_ADDRESS": cluster.address})
        alive = bool(inner) and await self.runner.recover(live.spec, inner, self._forward(live, on_status))
        if alive:
            self._live[handle] = live
        else:
            await cluster.stop()
        return alive

    async def locate(self, spec: LaunchSpec) -> str | None:
        inner = await self.runner.locate(spec)
        if inner:
            await self.runner.abort(inner, spec, "")
            return ""
        return inner

    async def close(self) -> None:
        """Clusters end with the backend (their attempts are lost and retried after a restart)."""
        await asyncio.gather(*(live.cluster.stop() for live in list(self._live.values())), return_exceptions=True)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "task_types": list(self.task_types), "clusters": len(self._live)}


def _inner(handle: str) -> str:
    parts = handle.split(":", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "dask" else ""


def _workers(custom: dict[str, Any], task: str) -> int:
    workers = custom.get("workers") or {}
    n = workers.get("number_of_workers", 1) if isinstance(workers, dict) else None
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_WORKERS:
        raise ValueError(f"dask task {task}: number_of_workers {n!r} is not a whole number from 1 to {MAX_WORKERS}")
    return n
