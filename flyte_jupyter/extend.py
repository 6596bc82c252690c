"""`flyte.extend`: the API for task plugins, as Flyte 2 has it.

A plugin is a config class (what a user passes as `TaskEnvironment(plugin_config=...)`) and a
subclass of :class:`AsyncFunctionTaskTemplate` that declares its `task_type` and turns the config
into the JSON its backend plugin reads (`custom_config`)::

    @dataclasses.dataclass
    class Spark:
        executors: int = 2

    class SparkTask(AsyncFunctionTaskTemplate):
        task_type = "spark"

        def custom_config(self, sctx: SerializationContext) -> dict:
            return {"executors": self.plugin_config.executors}

    TaskPluginRegistry.register(Spark, SparkTask)

The type travels in the task spec's `type` and the config in its `custom` JSON; the backend runs
it with the executor plugin that serves that type, and refuses a type no plugin serves. A package
makes itself known without any change here through an entry point in the group
`flyte_jupyter.plugins` (`myplugin = "myplugin.tasks"`): it is imported the first time a
`plugin_config` of a type not yet registered is declared.
"""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.runtime.spec import SerializationContext
from flyte_jupyter._resources import PodTemplate
from flyte_jupyter._task import TaskTemplate
from flyte_jupyter._task_plugins import ENTRY_POINT_GROUP, TaskPluginRegistry

PRIMARY_CONTAINER_DEFAULT_NAME = "primary"

__all__ = [
    "ENTRY_POINT_GROUP",
    "PRIMARY_CONTAINER_DEFAULT_NAME",
    "AsyncFunctionTaskTemplate",
    "PodTemplate",
    "SerializationContext",
    "TaskPluginRegistry",
]


class AsyncFunctionTaskTemplate(TaskTemplate):
    """A function task of a plugin's own type: `@env.task` makes one when the environment's
    `plugin_config` is registered for the subclass. Override `custom_config` (the JSON the
    backend plugin reads) and, when the task must do something around the function in its own
    process, `pre` (may return changed inputs) and `post` (may return a changed result)."""

    task_type = "python"  # every subclass declares its own

    def __init__(self, func: Any, env: Any, **options: Any) -> None:
        super().__init__(func, env, **options)
        self.plugin_config = getattr(env, "plugin_config", None)

    def custom_config(self, sctx: SerializationContext) -> dict[str, Any]:
        """The plugin's config as JSON-able data, carried in the task spec's `custom` field."""
        return {}

    async def pre(self, **inputs: Any) -> dict[str, Any]:
        """Runs in the action's process before the function; returns the inputs to call it with."""
        return inputs

    async def post(self, result: Any) -> Any:
        """Runs in the action's process after the function; returns the result to report."""
        return result

    async def execute(self, **inputs: Any) -> Any:
        inputs = await self.pre(**inputs)
        return await self.post(await super().execute(**inputs))
