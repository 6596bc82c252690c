"""One background event loop for every view in the kernel.

Views render from here, never from the threads that produce events (the local controller's loop,
task worker threads, a remote watch stream), so producers only flip a flag and a slow frontend can
never slow a run down. Remote detail fetches (logs, inputs) are awaited here too, on one channel.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Awaitable, Callable


def views_loop() -> asyncio.AbstractEventLoop:
    from flyte_jupyter._internal.runtime.loops import background_loop

    return background_loop("flyte-views")


def submit(coro: Awaitable[Any]) -> concurrent.futures.Future:
    """Run `coro` on the views loop; returns a concurrent future."""
    return asyncio.run_coroutine_threadsafe(coro, views_loop())  # type: ignore[arg-type]


def call_soon(fn: Callable[[], Any]) -> None:
    views_loop().call_soon_threadsafe(fn)


def on_views_thread() -> bool:
    return threading.current_thread().name == "flyte-views"
