"""An executor plugin that starts nothing: every attempt "runs" until it is aborted.

The fuzz tests create many runs; with this plugin (``--executor _null_executor:create_plugin``) an
accepted run costs the backend a few records, not a process, and the tests stay fast and quiet.
"""

from __future__ import annotations

import itertools
from typing import Any, AsyncIterator

from flyte_jupyter.backend.executor.plugin import (
    ExecutorPlugin,
    LaunchSpec,
    LogLine,
    Outcome,
    OutcomeKind,
    PluginConfig,
    PluginStatus,
    StatusCallback,
)


class NullPlugin(ExecutorPlugin):
    name = "null"

    def __init__(self, config: PluginConfig) -> None:
        self._next = itertools.count(1)
        self._callbacks: dict[str, StatusCallback] = {}

    async def launch(self, spec: LaunchSpec, on_status: StatusCallback) -> str:
        handle = f"null-{next(self._next)}"
        self._callbacks[handle] = on_status
        return handle

    async def abort(self, handle: str, spec: LaunchSpec, reason: str = "") -> None:
        callback = self._callbacks.pop(handle, None)
        if callback is not None:
            callback(PluginStatus(outcome=Outcome(OutcomeKind.ABORTED)))

    async def logs(self, spec: LaunchSpec, handle: str | None, follow: bool = False) -> AsyncIterator[LogLine]:
        for line in ():
            yield line

    async def recover(self, spec: LaunchSpec, handle: str, on_status: StatusCallback) -> bool:
        return False


def create_plugin(config: PluginConfig, **_: Any) -> NullPlugin:
    return NullPlugin(config)
