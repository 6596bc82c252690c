"""`flyte.group(name)`: label the actions started inside a block so views can fold them together."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

_group: contextvars.ContextVar[str | None] = contextvars.ContextVar("flyte_jupyter_group", default=None)


def current_group() -> str | None:
    return _group.get()


@contextlib.contextmanager
def group(name: str) -> Iterator[None]:
    """Actions started in this block carry `group=name` (nested groups join with '/')."""
    if not name or not isinstance(name, str):
        raise ValueError("group() needs a non-empty name")
    outer = _group.get()
    token = _group.set(f"{outer}/{name}" if outer else name)
    try:
        yield
    finally:
        _group.reset(token)
