"""Helpers shared by the tests/lab modules."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable


def on_jupyter_loop(test: Callable[..., Any]) -> Callable[..., Any]:
    """Run an async test on pytest-jupyter's loop, where its server lives.

    The project runs pytest-asyncio in auto mode, which would give the test a loop of its own, and
    a request to the server would then wait forever for a loop that never runs.
    """
    sig = inspect.signature(test)
    wants_loop = "jp_asyncio_loop" in sig.parameters
    params = list(sig.parameters.values())
    if not wants_loop:
        params.append(inspect.Parameter("jp_asyncio_loop", inspect.Parameter.KEYWORD_ONLY))

    def wrapper(**kwargs: Any) -> None:
        loop = kwargs["jp_asyncio_loop"] if wants_loop else kwargs.pop("jp_asyncio_loop")
        loop.run_until_complete(test(**kwargs))

    functools.update_wrapper(wrapper, test)
    del wrapper.__wrapped__
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper
