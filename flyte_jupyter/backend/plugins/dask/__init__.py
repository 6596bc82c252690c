"""The Dask plugin: tasks of type "dask" run with a Dask cluster started for their action.

Found by the entry point `dask` in `flyte_jupyter.executor_plugins` (its factory declares
`task_types = ("dask",)`); it wraps the backend's python executor, which runs the task's own code.
Modules: `plugin` (the ExecutorPlugin), `cluster` (the processes of one cluster), `guard` (what
ties each process's life to the backend's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flyte_jupyter.backend.executor.plugin import PluginConfig
    from flyte_jupyter.backend.plugins.dask.plugin import DaskPlugin


def create_plugin(config: "PluginConfig") -> "DaskPlugin":
    """Factory named by the `flyte_jupyter.executor_plugins` entry point `dask`."""
    from flyte_jupyter.backend.plugins.dask.plugin import DaskPlugin

    return DaskPlugin(config)


create_plugin.task_types = ("dask",)  # type: ignore[attr-defined]
