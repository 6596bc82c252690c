"""`FlyteJupyter`: the ExtensionApp that wires handlers to a traitlets-configurable runs manager.

Configure it like any Jupyter app, e.g. in jupyter_server_config.py::

    c.FlyteJupyter.endpoint = "backend.example:8089"   # empty: start the embedded backend
    c.FlyteJupyter.project = "ml"
    c.FlyteJupyter.runs_manager_class = "mypkg.MyRunsManager"
"""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Type, Unicode

from flyte_jupyter.server_ext._manager import BackendRunsManager, RunsManager


class FlyteJupyter(ExtensionApp):
    name = "flyte_jupyter"
    description = "Flyte runs for JupyterLab: list, watch, submit notebooks, abort."
    load_other_extensions = True

    endpoint = Unicode("", help="gRPC address of a flyte-jupyter backend. Empty: the embedded backend, "
                                "started with the server and stopped with it.").tag(config=True)
    api_key = Unicode("", help="Token of the backend at `endpoint`.").tag(config=True)
    config_file = Unicode("", help="A backend's client.yaml to read the endpoint and token from.").tag(config=True)
    project = Unicode("default", help="Project of the runs the panel lists and submits.").tag(config=True)
    domain = Unicode("development", help="Domain of the runs the panel lists and submits.").tag(config=True)
    start_embedded = Bool(True, help="Start the embedded backend when no endpoint is configured.").tag(config=True)
    data_dir = Unicode("", help="Data directory of the embedded backend; empty: the user's data directory.").tag(config=True)
    list_poll_interval = Float(1.0, help="Seconds between run-list polls, for a runs manager whose backend cannot push run changes.").tag(config=True)
    runs_manager_class = Type(
        default_value=BackendRunsManager, klass=RunsManager, config=True,
        help="The RunsManager implementation the handlers use.",
    )

    def initialize_settings(self) -> None:
        from flyte_jupyter.server_ext._ws import UpdatesHub

        root_dir = getattr(self.serverapp, "root_dir", "") if self.serverapp else ""
        self.runs_manager = self.runs_manager_class(
            parent=self, log=self.log, root_dir=str(root_dir or ""),
            **self._manager_kwargs(),
        )
        hub = UpdatesHub(self.runs_manager, self.log, self.list_poll_interval)
        self.settings.update({"flyte_runs_manager": self.runs_manager, "flyte_updates_hub": hub})
        self._hub = hub

    def _manager_kwargs(self) -> dict[str, Any]:
        """The FlyteJupyter settings the user configured, for the manager traits of the same name.

        Only configured ones: a default here must not override `c.BackendRunsManager.<name>`.
        """
        traits = self.runs_manager_class.class_traits(config=True)
        configured = set(self.config.get(type(self).__name__, {}))
        names = ("endpoint", "api_key", "config_file", "project", "domain", "start_embedded", "data_dir")
        return {n: getattr(self, n) for n in names if n in traits and n in configured}

    def initialize_handlers(self) -> None:
        from flyte_jupyter.server_ext._handlers import handlers

        self.handlers.extend(handlers())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Called on the server's loop once it runs: start the backend without blocking startup."""
        import asyncio

        self._start_task = asyncio.ensure_future(self.runs_manager.start())

    async def stop_extension(self) -> None:
        await self._hub.close()
        await self.runs_manager.stop()
