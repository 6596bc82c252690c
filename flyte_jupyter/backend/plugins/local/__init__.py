"""The local-process executor (the embedded default): every attempt is a process on this machine,
forked from a fork server that has already imported the SDK, or run by a warm reusable worker.

Selected by the backend config ``executor: local``. The modules, one job each: `plugin` (the
ExecutorPlugin: launch, abort, recover, logs, memory limits, bundle templates), `forkserver` and
`zygote` (both ends of the fork server), `workers` and `worker` (both ends of reusable workers),
`attempt` (what a fresh action process does first), `process` (one attempt's process),
`procfs` (process facts from /proc).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flyte_jupyter.backend.executor.plugin import PluginConfig
    from flyte_jupyter.backend.plugins.local.plugin import LocalProcessPlugin


def create_plugin(config: "PluginConfig") -> "LocalProcessPlugin":
    """Factory named by the `flyte_jupyter.executor_plugins` entry point `local`."""
    from flyte_jupyter.backend.plugins.local.plugin import LocalProcessPlugin

    return LocalProcessPlugin(config)
