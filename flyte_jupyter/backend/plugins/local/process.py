"""One attempt's process as the plugin tracks it, and how its end becomes an Outcome."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from flyte_jupyter._internal.runtime import storage as _storage
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
        if not _storage.is_local(self.spec.outputs_path):
            _uploads.add(asyncio.ensure_future(asyncio.to_thread(upload_logs, self.spec)))
        self.on_status(PluginStatus(outcome=outcome))


_uploads: set[asyncio.Future] = set()  # kept until done (the loop holds only weak references)


def stored_log(spec: LaunchSpec, stream: str) -> str:
    """Where a finished attempt's stdout or stderr is kept when storage is remote: beside its
    outputs, so any replica (or a client) finds it after the process and its machine are gone."""
    return _storage.join(spec.outputs_path, "logs", stream)


def upload_logs(spec: LaunchSpec) -> None:
    for stream in ("stdout", "stderr"):
        path = f"{spec.log_dir}.{stream}"
        try:
            if os.path.exists(path):
                _storage.upload_file(path, stored_log(spec, stream))
        except Exception as exc:  # noqa: BLE001 - the local copy stays; the replica serves it
            log.warning("could not store the %s of %s: %s", stream, spec.outputs_path, exc)
    for fut in [f for f in _uploads if f.done()]:
        _uploads.discard(fut)
