"""`@flyte.trace`: record a helper's calls as sub-steps of the running action.

Outside a run the helper is just called. Inside one, the controller records inputs, outcome and
timing as an action of its own, so it shows in the tree beside the task calls.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from flyte_jupyter._context import ctx


def _inputs(func: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except TypeError:
        return {"args": args, **kwargs}
    return dict(bound.arguments)


def trace(func: Callable) -> Callable:
    """Decorate sync, async, generator or async-generator functions."""
    name = func.__qualname__

    if inspect.isasyncgenfunction(func):
        @functools.wraps(func)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            items: list[Any] = []

            async def collect() -> list[Any]:
                async for item in func(*args, **kwargs):
                    items.append(item)
                return items

            tc = ctx()
            if tc is None or tc.controller is None:
                await collect()
            else:
                await tc.controller.record_trace(name, collect, _inputs(func, args, kwargs))
            for item in items:
                yield item

        return agen_wrapper

    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            tc = ctx()
            if tc is None or tc.controller is None:
                return await func(*args, **kwargs)
            return await tc.controller.record_trace(name, lambda: func(*args, **kwargs),
                                                    _inputs(func, args, kwargs))

        return async_wrapper

    @functools.wraps(func)
    def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
        tc = ctx()
        if tc is None or tc.controller is None:
            return func(*args, **kwargs)
        from flyte_jupyter._internal.controllers.base import run_sync

        async def call() -> Any:
            result = func(*args, **kwargs)
            return list(result) if inspect.isgenerator(result) else result

        controller = tc.controller  # not None (checked above); a lambda does not keep the narrowing
        result = run_sync(lambda: controller.record_trace(name, call, _inputs(func, args, kwargs)))
        return iter(result) if inspect.isgeneratorfunction(func) else result

    return sync_wrapper
