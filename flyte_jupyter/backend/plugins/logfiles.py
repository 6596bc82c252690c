"""An attempt's stdout/stderr log files: where they are, the last lines, and following them.

Shared by the plugins whose attempts write (or have copied) their output into files beside the
attempt's log directory: the local-process, Docker, sql and dask plugins.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import AsyncIterator, Callable

from flyte_jupyter.backend.executor.plugin import LaunchSpec, LogLine

_POLL_S = 0.2
_TAIL_READ = 64 * 1024


def log_files(spec: LaunchSpec) -> tuple[str, str]:
    """stdout/stderr of an attempt, beside its log directory's name (the run's log directory
    exists after the first action, so an action creates no directory for its logs)."""
    return f"{spec.log_dir}.stdout", f"{spec.log_dir}.stderr"


def tail_lines(spec: LaunchSpec, count: int) -> list[str]:
    """The last ``count`` lines of the attempt's stderr, else of its stdout (for failure messages)."""
    out, err = log_files(spec)
    for path in (err, out):
        try:
            with open(path, "rb") as fh:
                fh.seek(max(0, os.path.getsize(path) - _TAIL_READ))
                lines = fh.read().decode(errors="replace").splitlines()
        except OSError:
            continue
        if lines:
            return lines[-count:]
    return []


async def follow_log_files(spec: LaunchSpec, running: Callable[[], bool], follow: bool) -> AsyncIterator[LogLine]:
    """Every line of the attempt's two files; with ``follow``, keep reading while ``running()``."""
    out, err = log_files(spec)
    async for line in tail([("stdout", out), ("stderr", err)], running, follow):
        yield line


async def tail(paths: list[tuple[str, str]], running: Callable[[], bool], follow: bool) -> AsyncIterator[LogLine]:
    """The lines of (stream, path) files; with ``follow``, keep reading while ``running()``."""
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
        await asyncio.sleep(_POLL_S)
