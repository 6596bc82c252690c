"""Named event loops on daemon threads: where local runs, remote calls and views do their work,
so a caller's own loop (a notebook's) is never re-entered or blocked."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

_loops: dict[str, asyncio.AbstractEventLoop] = {}
_lock = threading.Lock()


def background_loop(name: str, *, executor_threads: int | None = None) -> asyncio.AbstractEventLoop:
    """The running loop called `name` (its thread has the same name), started on first use.

    `executor_threads` sizes the loop's default executor, which runs sync task bodies: Python's
    default (cores + 4) would cap a local fan-out of sync tasks at six on these machines.
    """
    with _lock:
        loop = _loops.get(name)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            if executor_threads:
                loop.set_default_executor(
                    concurrent.futures.ThreadPoolExecutor(executor_threads, thread_name_prefix=f"{name}-task"))
            threading.Thread(target=loop.run_forever, name=name, daemon=True).start()
            _loops[name] = loop
        return loop
