"""Actions as containers on a Docker (or Podman) engine, for the embedded backend.

Two plugins: `plugin.DockerPlugin` (``executor: docker``: every Python action in a container of its
image) and `raw.RawContainerPlugin` (task type "raw-container", `ContainerTask`, served whatever the
default executor). The modules, one job each: `engine` (the CLI), `containers` (one attempt's
container from start to removal: labels, watch, stop, recover, sweep), `runargs` (`docker run`
arguments from a launch spec), `plugin` and `raw`. Importing this package starts nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flyte_jupyter.backend.executor.plugin import PluginConfig
    from flyte_jupyter.backend.plugins.docker.plugin import DockerPlugin
    from flyte_jupyter.backend.plugins.docker.raw import RawContainerPlugin


def create_plugin(config: "PluginConfig") -> "DockerPlugin":
    """Factory named by the `flyte_jupyter.executor_plugins` entry point `docker`."""
    from flyte_jupyter.backend.plugins.docker.plugin import DockerPlugin

    return DockerPlugin(config)


def create_raw_plugin(config: "PluginConfig") -> "RawContainerPlugin":
    """Factory named by the entry point `raw-container`; its `task_types` make the registry serve that type with it."""
    from flyte_jupyter.backend.plugins.docker.raw import RawContainerPlugin

    return RawContainerPlugin(config)


create_raw_plugin.task_types = ("raw-container",)  # type: ignore[attr-defined]
