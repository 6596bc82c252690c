"""Dask tasks, configured as Flyte 2's `flyteplugins.dask` configures them::

    env = flyte.TaskEnvironment(name="dsk", plugin_config=Dask(workers=WorkerGroup(number_of_workers=2)))

    @env.task
    async def total(n: int) -> int:
        from distributed import Client
        return Client().submit(sum, range(n)).result()

For each action the backend starts a scheduler and the workers (processes on the embedded
backend, pods on Kubernetes), sets `DASK_SCHEDULER_ADDRESS` so that `distributed.Client()` with no
arguments connects, and stops them when the action ends. Needs `pip install flyte-jupyter[dask]`
where the action runs. In local mode a Dask task runs in the kernel with whatever cluster
`Client()` finds there (a fresh local one when none is configured).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from flyte_jupyter._resources import Resources
from flyte_jupyter.extend import AsyncFunctionTaskTemplate, SerializationContext, TaskPluginRegistry

__all__ = ["Dask", "DaskTask", "Scheduler", "WorkerGroup"]

MAX_WORKERS = 256


@dataclasses.dataclass
class Scheduler:
    """The scheduler: its image (default: the task's) and resources."""

    image: Optional[str] = None
    resources: Optional[Resources] = None


@dataclasses.dataclass
class WorkerGroup:
    """The workers: how many, their image (default: the task's) and resources each."""

    number_of_workers: Optional[int] = 1
    image: Optional[str] = None
    resources: Optional[Resources] = None

    def __post_init__(self) -> None:
        n = self.number_of_workers
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_WORKERS:
            raise ValueError(f"WorkerGroup(number_of_workers={n!r}): use a whole number from 1 to {MAX_WORKERS}")


@dataclasses.dataclass
class Dask:
    """The plugin config of a Dask environment: `Dask(scheduler=Scheduler(), workers=WorkerGroup())`."""

    scheduler: Scheduler = dataclasses.field(default_factory=Scheduler)
    workers: WorkerGroup = dataclasses.field(default_factory=WorkerGroup)


def _resources(res: Optional[Resources]) -> dict[str, str]:
    if res is None:
        return {}
    out = {}
    for kind in ("cpu", "memory", "gpu"):
        value = getattr(res, kind, None)
        if isinstance(value, tuple):  # (request, limit): the limit bounds the process
            value = value[-1]
        if value is not None:
            out[kind] = str(value)
    return out


class DaskTask(AsyncFunctionTaskTemplate):
    """A function task of type "dask": the backend runs a Dask cluster beside it."""

    task_type = "dask"
    plugin_config: Dask

    def custom_config(self, sctx: SerializationContext) -> dict[str, Any]:
        cfg = self.plugin_config
        return {
            "scheduler": {"image": cfg.scheduler.image or "", "resources": _resources(cfg.scheduler.resources)},
            "workers": {"number_of_workers": cfg.workers.number_of_workers or 1, "image": cfg.workers.image or "",
                        "resources": _resources(cfg.workers.resources)},
        }


TaskPluginRegistry.register(Dask, DaskTask)
