"""The table of task plugins: a `plugin_config` type -> the TaskTemplate subclass that runs it.

`flyte_jupyter.extend.TaskPluginRegistry` is the one instance. A plugin package registers itself
when imported (`TaskPluginRegistry.register(Dask, DaskTask)`); a third-party package is found by
an entry point in the group `flyte_jupyter.plugins` (`name = "package.module"`, or
`"package.module:register"` for a function to call), imported on the
first look-up that misses, so declaring a plain task imports no plugin at all.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flyte_jupyter.errors import UnknownPluginConfigError

ENTRY_POINT_GROUP = "flyte_jupyter.plugins"

# The plugins shipped with flyte-jupyter, imported on a miss like entry points (no metadata needed).
_BUILT_IN = ("flyte_jupyter.plugins.dask",)

log = logging.getLogger("flyte_jupyter")


def _type_name(tp: type) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"


class _Registry:
    """Maps a plugin config class to the task class that serves it (Flyte 2's TaskPluginRegistry)."""

    def __init__(self) -> None:
        self._plugins: dict[type, type] = {}
        self._loaded = False

    def register(self, config_type: type, plugin: type) -> None:
        """Serve environments whose `plugin_config` is a `config_type` with the task class `plugin`
        (a subclass of `flyte_jupyter.extend.AsyncFunctionTaskTemplate`)."""
        from flyte_jupyter._task import TaskTemplate

        if not isinstance(config_type, type):
            raise TypeError(f"register() takes the config class, not {type(config_type).__name__}")
        if not (isinstance(plugin, type) and issubclass(plugin, TaskTemplate)):
            raise TypeError(f"register({config_type.__name__}, ...) takes a TaskTemplate subclass, got {plugin!r}")
        if not getattr(plugin, "task_type", "") or plugin.task_type == "python":
            raise TypeError(f"task plugin {plugin.__name__} must declare its own task_type (not 'python')")
        self._plugins[config_type] = plugin

    def find(self, config_type: type) -> type | None:
        """The task class registered for `config_type` (or a base of it), loading plugins on a miss."""
        found = self._lookup(config_type)
        if found is None and not self._loaded:
            self._load_all()
            found = self._lookup(config_type)
        return found

    def _lookup(self, config_type: type) -> type | None:
        for base in getattr(config_type, "__mro__", (config_type,)):
            if base in self._plugins:
                return self._plugins[base]
        return None

    def registered(self) -> dict[str, str]:
        """config type -> task type, for messages and `describe`."""
        if not self._loaded:
            self._load_all()
        return {_type_name(c): str(getattr(p, "task_type", "")) for c, p in self._plugins.items()}

    def class_for(self, plugin_config: Any) -> type:
        """The task class for an environment's `plugin_config`, or an error naming what is known."""
        found = self.find(type(plugin_config))
        if found is None:
            known = ", ".join(f"{c} ({t})" for c, t in sorted(self.registered().items())) or "none"
            raise UnknownPluginConfigError(
                f"plugin_config of type {_type_name(type(plugin_config))} has no task plugin registered; "
                f"registered plugin configs: {known}. Install the plugin package that provides it, or "
                "register one with flyte_jupyter.extend.TaskPluginRegistry.register(ConfigType, TaskClass)")
        return found

    def _load_all(self) -> None:
        self._loaded = True
        from importlib.metadata import entry_points

        targets = list(_BUILT_IN) + [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]
        for target in targets:
            module_name, _, attr = target.partition(":")
            try:
                module = importlib.import_module(module_name)
                hook = getattr(module, attr) if attr else None
                if callable(hook) and not isinstance(hook, type):
                    hook()  # `name = "package.module:register"`: a function that registers
            except Exception:  # noqa: BLE001 - a broken plugin must not break every other task
                log.warning("task plugin %s could not be loaded", target, exc_info=True)


TaskPluginRegistry = _Registry()
