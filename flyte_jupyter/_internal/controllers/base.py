"""What every controller offers, and the bridging that lets sync code call tasks."""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextvars
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

T = TypeVar("T")

_bridge_pool: concurrent.futures.ThreadPoolExecutor | None = None


def run_sync(make_coro: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, keeping the caller's context (its action).

    In a thread without a running loop (a sync task's worker thread, a script) it runs on a fresh loop
    here; under a running loop (sync call from async code, a notebook cell) it runs on a fresh loop in
    a helper thread, so the caller's loop is never re-entered.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())
    global _bridge_pool
    if _bridge_pool is None:
        _bridge_pool = concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="flyte-bridge")
    context = contextvars.copy_context()
    return _bridge_pool.submit(context.run, lambda: asyncio.run(make_coro())).result()


class Controller(abc.ABC):
    """Launches child actions for the task calls made inside a running action."""

    @abc.abstractmethod
    async def submit(self, task: Any, args: tuple, kwargs: dict) -> Any:
        """Run `task(*args, **kwargs)` as a child of the current action and return its outputs."""

    def submit_sync(self, task: Any, args: tuple, kwargs: dict) -> Any:
        """The same, for a sync caller: blocks until the child ends."""
        return run_sync(lambda: self.submit(task, args, kwargs))

    async def record_trace(self, name: str, func: Callable[[], Awaitable[Any]], inputs: dict[str, Any]) -> Any:
        """Run a traced helper as a recorded sub-step; the default records nothing."""
        return await func()
