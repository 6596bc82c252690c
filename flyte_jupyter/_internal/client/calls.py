"""The loop that owns every backend call of this process, and how sync and async code reach it.

One loop (on a daemon thread) means one gRPC channel per backend for the whole process, whichever
thread or event loop the caller is on.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Coroutine, TypeVar

from flyte_jupyter._internal.runtime.loops import background_loop as named_loop

T = TypeVar("T")


def background_loop() -> asyncio.AbstractEventLoop:
    """The loop that owns every remote call of this process (one channel)."""
    return named_loop("flyte-remote-loop")


def call(make: Callable[[], Coroutine[Any, Any, T]], timeout: float | None = None) -> T:
    """Run a coroutine on the background loop from sync code and return its result."""
    return asyncio.run_coroutine_threadsafe(make(), background_loop()).result(timeout)


async def acall(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The same from async code (any loop)."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), background_loop()))
