"""The Sql plugin: tasks of type "sql" run as a query by the backend itself, no user-code process.

Found by the entry point `sql` in `flyte_jupyter.executor_plugins`; its factory declares
`task_types = ("sql",)`, so it serves them beside whichever executor runs python tasks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flyte_jupyter.backend.executor.plugin import PluginConfig
    from flyte_jupyter.backend.plugins.sql.plugin import SqlPlugin


def create_plugin(config: "PluginConfig") -> "SqlPlugin":
    """Factory named by the `flyte_jupyter.executor_plugins` entry point `sql`."""
    from flyte_jupyter.backend.plugins.sql.plugin import SqlPlugin

    return SqlPlugin(config)


create_plugin.task_types = ("sql",)  # type: ignore[attr-defined]
