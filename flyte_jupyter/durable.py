"""`flyte.durable`: deterministic stand-ins for the clock (Flyte 2's `sleep`, `time`, `now`).

Each is called plainly from sync code (`flyte.durable.sleep(5)`) or awaited from async code
(`await flyte.durable.sleep.aio(5)`). They go through `flyte.trace`, so every call is recorded as a
sub-step of the running action; `sleep(seconds)` sleeps until `seconds` after the moment its first
recorded step says it started, so a replay that finds that step sleeps only for what is left.

Where we differ from Flyte: traced steps are recorded for the run's views but not yet kept across
attempts, so after a retry or a backend restart `time()` and `now()` read the clock again and
`sleep()` sleeps its full length again. Outside a task they simply read the clock and sleep.
"""

from __future__ import annotations

import asyncio
import datetime
import time as _time
from typing import Any, Callable, Coroutine

from flyte_jupyter._trace import trace


class _Syncified:
    """`f(...)` from sync code, `await f.aio(...)` from async code."""

    def __init__(self, func: Callable[..., Coroutine[Any, Any, Any]], name: str, doc: str) -> None:
        self._func = func
        self.__name__ = name
        self.__doc__ = doc

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from flyte_jupyter._internal.controllers.base import run_sync

        return run_sync(lambda: self._func(*args, **kwargs))

    async def aio(self, *args: Any, **kwargs: Any) -> Any:
        return await self._func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<flyte.durable.{self.__name__}>"


@trace
async def sleep_start() -> float:
    """When a durable sleep started (recorded)."""
    return _time.time()


@trace
async def durable_time() -> float:
    """The clock, recorded."""
    return _time.time()


@trace
async def durable_now() -> datetime.datetime:
    """The local date and time, recorded."""
    return datetime.datetime.now()


async def _sleep(seconds: float) -> None:
    start = await sleep_start()
    left = start + float(seconds) - _time.time()
    if left > 0:
        await asyncio.sleep(left)


sleep = _Syncified(_sleep, "sleep", "Sleep `seconds`, counted from when this sleep was first recorded.")
time = _Syncified(durable_time, "time", "`time.time()`, recorded as a step of the running action.")
now = _Syncified(durable_now, "now", "`datetime.now()`, recorded as a step of the running action.")

__all__ = ["now", "sleep", "time"]
