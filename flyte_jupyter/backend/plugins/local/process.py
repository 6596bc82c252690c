"""One attempt's process as the plugin tracks it, and how its end becomes an Outcome."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from flyte_jupyter.backend.executor.plugin import (
    LaunchSpec,
    Outcome,
    OutcomeKind,
    PluginStatus,
    StatusCallback,
    oom_message,
)

log = logging.getLogger("flyte_jupyter.backend")


class AttemptProc:
    def __init__(self, spec: LaunchSpec, on_status: StatusCallback) -> None:
        self.spec = spec
        self.on_status = on_status
        self.pid = 0
        self.start = ""
        self.exited = asyncio.Event()
        self.oom = False
        self.aborted = False
        self.pids: set[int] = set()
        self.zygote: Any = None

    def finish(self, code: int | None, kind: OutcomeKind | None = None, message: str = "",
               cpu_seconds: float | None = None, peak_memory_bytes: int | None = None) -> None:
        if self.exited.is_set():
            return
        self.exited.set()
        if self.oom:
            kind = OutcomeKind.OOM
            # The limit this process ran under (a pod template may have set it, not the task).
            message = message or oom_message(self.spec.action_name, self.spec.task_name, self.spec.memory_text)
        elif self.aborted:
            kind = OutcomeKind.ABORTED
        outcome = Outcome(kind or OutcomeKind.EXITED, code, message, cpu_seconds, peak_memory_bytes)
        self.on_status(PluginStatus(outcome=outcome))
