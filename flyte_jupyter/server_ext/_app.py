"""`FlyteJupyter`: the ExtensionApp that wires handlers to a traitlets-configurable runs manager.

As in jupyter-scheduler's extension, the app only declares which manager class to use; the manager
owns its settings and is built with the server's config. Configure it like any Jupyter app, e.g.
in jupyter_server_config.py::

    c.BackendRunsManager.endpoint = "backend.example:8089"   # empty: the embedded backend
    c.RunsManager.project = "ml"                             # the defaults of every runs manager
    c.FlyteJupyter.runs_manager_class = "mypkg.MyRunsManager"

The manager's settings were once set on the app (`c.FlyteJupyter.endpoint`, ...); those names still
work, with a deprecation warning: `update_config` moves them to `c.RunsManager.<name>` as config
arrives (config files, the server's config, the command line), unless that is set too.
"""

from __future__ import annotations

import copy
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Type
from traitlets.config import Config

from flyte_jupyter.server_ext._manager import BackendRunsManager, RunsManager

# The manager settings that were app traits before the runs manager owned them.
MOVED_TO_MANAGER = ("endpoint", "api_key", "config_file", "project", "domain", "start_embedded", "data_dir")


class FlyteJupyter(ExtensionApp):
    name = "flyte_jupyter"
    description = "Flyte runs for JupyterLab: list, watch, submit notebooks, abort."
    load_other_extensions = True
    classes = [*ExtensionApp.classes, RunsManager, BackendRunsManager]

    runs_manager_class = Type(
        default_value=BackendRunsManager, klass=RunsManager, config=True,
        help="The RunsManager implementation the handlers use; it is built with the server's config, "
             "so its own traits are set as c.<ItsClass>.<trait> (or c.RunsManager.<trait>).",
    )
    list_poll_interval = Float(1.0, help="Seconds between run-list polls, for a runs manager whose backend cannot push run changes.").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        self._warned_moved: set[str] = set()
        super().__init__(**kwargs)

    def update_config(self, config: Config) -> None:
        super().update_config(self._move_manager_settings(config))

    def _move_manager_settings(self, config: Config) -> Config:
        """`c.FlyteJupyter.<name>` for a manager setting becomes `c.RunsManager.<name>`, where
        every manager class reads it (an explicit `c.RunsManager.<name>` wins)."""
        section = type(self).__name__
        mine = config[section] if section in config else None
        moved = [n for n in MOVED_TO_MANAGER if mine is not None and n in mine]
        if not moved:
            return config
        config = copy.deepcopy(config)  # the caller's config (e.g. the server's) stays as it was
        target = config.RunsManager
        for name in moved:
            value = config[section].pop(name)
            if name not in target:
                target[name] = value
            if name not in self._warned_moved:
                self._warned_moved.add(name)
                self.log.warning("c.%s.%s is deprecated: set c.RunsManager.%s (or c.<the manager class>.%s)",
                                 section, name, name, name)
        return config

    def initialize_settings(self) -> None:
        from flyte_jupyter.server_ext._ws import UpdatesHub

        root_dir = getattr(self.serverapp, "root_dir", "") if self.serverapp else ""
        self.runs_manager = self.runs_manager_class(parent=self, config=self.config, log=self.log,
                                                    root_dir=str(root_dir or ""))
        hub = UpdatesHub(self.runs_manager, self.log, self.list_poll_interval)
        self.settings.update({"flyte_runs_manager": self.runs_manager, "flyte_updates_hub": hub})
        self._hub = hub

    def initialize_handlers(self) -> None:
        from jupyter_server.utils import url_path_join

        from flyte_jupyter.server_ext import _tasks, _triggers
        from flyte_jupyter.server_ext._handlers import handlers
        from flyte_jupyter.server_ext._timeline import timeline_handlers

        self.handlers.extend(handlers())
        self.handlers.extend(_tasks.handlers(url_path_join("/flyte", "api")))
        self.handlers.extend(_triggers.handlers())
        self.handlers.extend(timeline_handlers("/flyte/api"))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Called on the server's loop once it runs: start the backend without blocking startup."""
        import asyncio

        self._start_task = asyncio.ensure_future(self.runs_manager.start())

    async def stop_extension(self) -> None:
        await self._hub.close()
        await self.runs_manager.stop()
