"""An attempt's stdout/stderr as files beside its log directory's name, and the tail that streams
them as LogLines: shared by every plugin that keeps its logs on this machine (local, sql, dask)."""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Callable

from flyte_jupyter.backend.executor.plugin import LaunchSpec, LogLine


def log_files(spec: LaunchSpec) -> tuple[str, str]:
    """stdout/stderr of an attempt, beside its log directory's name (the run's log directory
    exists after the first action, so an action creates no directory for its logs)."""
    return f"{spec.log_dir}.stdout", f"{spec.log_dir}.stderr"


async def tail(paths: list[tuple[str, str]], running: Callable[[], bool], follow: bool) -> AsyncIterator[LogLine]:
    """The lines of (stream, path) files; with `follow`, keep reading while `running()`."""
    offsets = {name: 0 for name, _ in paths}
    partial = {name: b"" for name, _ in paths}
    while True:
        live = follow and running()
        for name, path in paths:
            try:
                with open(path, "rb") as fh:
                    fh.seek(offsets[name])
                    data = fh.read()
            except OSError:
                continue
            offsets[name] += len(data)
            data = partial[name] + data
            lines = data.split(b"\n")
            partial[name] = lines.pop()
            now = time.time()
            for line in lines:
                yield LogLine(name, line.decode(errors="replace"), now)
        if not live:
            for name, rest in partial.items():
                if rest:
                    yield LogLine(name, rest.decode(errors="replace"), time.time())
            return
        await asyncio.sleep(0.2)
