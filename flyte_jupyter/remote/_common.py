"""What the `flyte.remote` objects share: the backend they read from, and Flyte's sync/`.aio` pairs."""

from __future__ import annotations

import functools
from typing import Any, Callable


def client_for() -> Any:
    """The client of the configured backend (`flyte.init_from_config(...)`, `$FLYTE_JUPYTER_CONFIG`,
    else the embedded backend if it is running): reading runs never starts a backend."""
    from flyte_jupyter._internal.client.resolve import resolve_client

    return resolve_client(start=False)


class _Bound:
    """A coroutine function bound to its class: call it for the sync form, `.aio(...)` to await."""

    def __init__(self, func: Callable[..., Any], owner: Any) -> None:
        self._func, self._owner = func, owner
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from flyte_jupyter._internal.controllers.base import run_sync

        result = run_sync(lambda: self._func(self._owner, *args, **kwargs))
        return iter(result) if isinstance(result, list) else result

    def aio(self, *args: Any, **kwargs: Any) -> "_Pending":
        """Await it (`await Run.get.aio("r")`), or iterate a listing (`async for r in Run.listall.aio()`)."""
        return _Pending(lambda: self._func(self._owner, *args, **kwargs))


class _Pending:
    """The result of an `.aio(...)` call: awaitable, and async-iterable when the result is a list."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make

    def __await__(self) -> Any:
        return self._make().__await__()

    async def __aiter__(self) -> Any:
        for item in await self._make():
            yield item


class syncified_classmethod:
    """A classmethod written as a coroutine, offered as Flyte offers it: `Run.get("r")` (sync; a
    list result comes back as an iterator) and `await Run.get.aio("r")`."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self._func = func
        self.__doc__ = func.__doc__

    def __get__(self, instance: Any, owner: Any) -> _Bound:
        return _Bound(self._func, owner)
