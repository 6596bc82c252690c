"""What File and Dir share: a reference (path, name, format, hash) to data in storage, with value
semantics, so only the reference travels between tasks."""

from __future__ import annotations

import os
from typing import Any

from flyte_jupyter._internal.runtime import storage as _storage


async def _to_thread(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    """asyncio.to_thread, with asyncio imported on first use (it costs ~30 ms to import)."""
    import asyncio

    return await asyncio.to_thread(fn, *args, **kwargs)


class StorageRef:
    __slots__ = ("path", "name", "format", "hash")

    def __init__(self, path: str | os.PathLike[str], name: str | None = None, format: str = "", hash: str | None = None):
        self.path = os.fspath(path)
        self.name = name if name is not None else (_storage.basename(self.path) or None)
        self.format = format or ""
        self.hash = hash

    def __class_getitem__(cls, item: Any) -> type:
        """`File[...]` / `Dir[...]` take a format parameter for Flyte compatibility: the same type."""
        return cls

    def exists_sync(self) -> bool:
        """Whether the data exists in storage."""
        return _storage.exists(self.path)

    async def exists(self) -> bool:
        """Whether the data exists in storage (async)."""
        return await _to_thread(_storage.exists, self.path)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (self.path, self.name, self.format, self.hash) == (other.path, other.name, other.format, other.hash)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.path))

    def __repr__(self) -> str:
        extra = f", format={self.format!r}" if self.format else ""
        return f"{type(self).__name__}(path={self.path!r}, name={self.name!r}{extra})"
