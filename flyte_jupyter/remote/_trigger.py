"""`flyte.remote.Trigger`: the triggers of deployed tasks, as Flyte 2 names them.

    for t in flyte.remote.Trigger.listall(task_name="env.report"):
        print(t.name, t.schedule, t.next_fire, t.active)
    flyte.remote.Trigger.update("hourly", "env.report", active=False)   # pause
    flyte.remote.Trigger.delete("hourly", "env.report")

Each has Flyte's `.aio` form.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flyte_jupyter.remote._common import client_for, syncified_classmethod
from flyte_jupyter.remote._secret import _acall


@dataclasses.dataclass(frozen=True)
class Trigger:
    """A deployed trigger: its task, schedule, state and fires (times in epoch seconds, 0: none)."""

    name: str
    task_name: str
    task_version: str
    schedule: str
    active: bool
    next_fire: float
    last_fire: float
    last_run: str
    project: str
    domain: str

    @classmethod
    def _of(cls, t: Any) -> "Trigger":
        return cls(t.spec.name, t.task_name, t.task_version, t.schedule, t.active, t.next_fire, t.last_fire,
                   t.last_run, t.project, t.domain)

    @syncified_classmethod
    async def listall(cls: Any, task_name: str | None = None, limit: int = 100) -> list["Trigger"]:
        from flyte_jupyter._internal.client import platform

        client = client_for()
        found = await _acall(lambda: platform.list_triggers(client, task_name=task_name or ""))
        return [cls._of(t) for t in found[:limit]]

    @syncified_classmethod
    async def get(cls: Any, name: str, task_name: str) -> "Trigger":
        from flyte_jupyter._internal.client import platform

        client = client_for()
        found = await _acall(lambda: platform.list_triggers(client, task_name=task_name))
        for t in found:
            if t.spec.name == name:
                return cls._of(t)
        raise LookupError(f"task {task_name} has no trigger {name!r}; `flyte-jupyter triggers list` shows them")

    @syncified_classmethod
    async def update(cls: Any, name: str, task_name: str, active: bool) -> None:
        """Pause (`active=False`) or resume a trigger."""
        from flyte_jupyter._internal.client import platform

        client = client_for()
        await _acall(lambda: platform.set_trigger_active(client, name, active, task_name=task_name))

    @syncified_classmethod
    async def delete(cls: Any, name: str, task_name: str) -> None:
        from flyte_jupyter._internal.client import platform

        client = client_for()
        await _acall(lambda: platform.delete_trigger(client, name, task_name=task_name))
