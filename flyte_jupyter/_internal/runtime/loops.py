"""Named event loops on daemon threads: where local runs, remote calls and views do their work,
so a caller's own loop (a notebook's) is never re-entered or blocked."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from typing import Any, Coroutine

_loops: dict[str, asyncio.AbstractEventLoop] = {}
_lock = threading.Lock()
_pid = os.getpid()  # a forked child has none of its parent's loop threads: it starts its own


def background_loop(name: str, *, executor_threads: int | None = None) -> asyncio.AbstractEventLoop:
    """The running loop called `name` (its thread has the same name), started on first use.

    `executor_threads` sizes the loop's default executor, which runs sync task bodies: Python's
    default (cores + 4) would cap a local fan-out of sync tasks at six on these machines.
    """
    global _pid
    with _lock:
        if _pid != os.getpid():
            _loops.clear()
            _pid = os.getpid()
        loop = _loops.get(name)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            if executor_threads:
                loop.set_default_executor(
                    concurrent.futures.ThreadPoolExecutor(executor_threads, thread_name_prefix=f"{name}-task"))
            threading.Thread(target=loop.run_forever, name=name, daemon=True).start()
            _loops[name] = loop
        return loop


class BackgroundTasks:
    """Fire-and-forget tasks kept referenced until they end (the loop holds only weak references),
    with a failure logged instead of lost; `cancel_all()` at shutdown."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = log
        self._what = what

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s task failed", self._what, exc_info=task.exception())

    def cancel_all(self) -> list[asyncio.Task[Any]]:
        """Cancel every live task; returns them so the caller can await their end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        return tasks
