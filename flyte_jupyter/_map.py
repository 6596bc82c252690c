"""`flyte.map`: call a task over iterables, concurrently, with results in input order.

Flyte 2 runs a map one call at a time in local mode; here every call is its own action and they
run concurrently (bounded by `concurrency` when given), in local and remote mode alike.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, Callable, Iterable, Iterator

from flyte_jupyter._group import group


def _call(func: Callable, args: tuple) -> Any:
    """An awaitable for one element, whatever kind of callable `func` is."""
    from flyte_jupyter._task import TaskTemplate

    if isinstance(func, functools.partial) and isinstance(func.func, TaskTemplate):
        return func.func.aio(*func.args, *args, **func.keywords)
    if isinstance(func, TaskTemplate):
        return func.aio(*args)
    if asyncio.iscoroutinefunction(func):
        return func(*args)
    return asyncio.to_thread(func, *args)


def _label(func: Callable, group_name: str | None) -> str:
    if group_name:
        return group_name
    inner = func.func if isinstance(func, functools.partial) else func
    return f"map:{getattr(inner, 'short_name', getattr(inner, '__name__', 'fn'))}"


class _Map:
    def __call__(self, func: Callable, *iterables: Iterable, group_name: str | None = None,
                 concurrency: int = 0, return_exceptions: bool = True) -> Iterator[Any]:
        """Results in order, as an iterator; failed calls yield their exception when
        `return_exceptions` (Flyte's default), else the first failure is raised."""
        from flyte_jupyter._internal.controllers.base import run_sync

        async def collect() -> list[Any]:
            return [r async for r in self.aio(func, *iterables, group_name=group_name,
                                              concurrency=concurrency, return_exceptions=return_exceptions)]

        return iter(run_sync(collect))

    async def aio(self, func: Callable, *iterables: Iterable, group_name: str | None = None,
                  concurrency: int = 0, return_exceptions: bool = True) -> AsyncIterator[Any]:
        if not iterables:
            raise TypeError("flyte.map needs at least one iterable of inputs")
        limit = asyncio.Semaphore(concurrency) if concurrency and concurrency > 0 else None

        async def one(args: tuple) -> Any:
            if limit is None:
                return await _call(func, args)
            async with limit:
                return await _call(func, args)

        with group(_label(func, group_name)):
            pending = [asyncio.ensure_future(one(args)) for args in zip(*iterables)]
        try:
            for fut in pending:
                try:
                    yield await fut
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if not return_exceptions:
                        raise
                    yield exc
        finally:
            for fut in pending:
                if not fut.done():
                    fut.cancel()


map = _Map()
