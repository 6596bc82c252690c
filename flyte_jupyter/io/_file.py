"""io.File: a reference to one file in storage, passed between tasks without its bytes.

Follows Flyte 2's `flyte.io.File`: methods without a suffix are async (`from_local`, `download`,
`open`, `exists`), their blocking twins end in `_sync`. Only the reference (path, name, format,
hash) travels in a task's inputs or outputs; the data is read when the receiving task opens or
downloads it.
"""

from __future__ import annotations

import os
from typing import IO, Any, AsyncIterator

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter.io._ref import StorageRef, _to_thread


class File(StorageRef):
    """A file, local or in storage (`path` is a local path or a URI such as file://, s3://).

    Create one with `File.from_local` / `File.from_local_sync` (uploads), `File.new_remote()`
    (a fresh location to write to), or `File.from_existing_remote(uri)`. `File[...]` accepts a
    format parameter for Flyte compatibility and means the same type.
    """

    _flyte_blob_kind = "file"
    __slots__ = ()

    # ---- constructors --------------------------------------------------------------------

    @classmethod
    def from_existing_remote(cls, remote_path: str, file_cache_key: str | None = None) -> File:
        """A reference to data already in storage; nothing is copied."""
        return cls(path=remote_path, hash=file_cache_key)

    @classmethod
    def new_remote(cls, file_name: str | None = None, hash_method: Any = None) -> File:
        """A fresh, unique location under the raw data path, to be written with `open("wb")`."""
        return cls(path=_storage.new_raw_uri(file_name or "file"), name=file_name)

    @classmethod
    def named_remote(cls, name: str) -> File:
        """A location derived only from `name` and the raw data path of the running task, so a
        retried task writes to the same place."""
        return cls(path=_storage.join(_storage.raw_data_path(), "named", name), name=name)

    @classmethod
    def from_local_sync(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        hash_method: Any = None,
    ) -> File:
        """Upload a local file and return its reference (blocking).

        Without `remote_destination` the file goes to a unique location under the raw data
        path of the running task (or the configured default).
        """
        src = os.fspath(local_path)
        if not os.path.isfile(src):
            raise FileNotFoundError(f"File.from_local: {src!r} is not a file")
        name = os.path.basename(src)
        dest = remote_destination or _storage.new_raw_uri(name)
        _storage.upload_file(src, dest)
        return cls(path=dest, name=name, hash=hash_method if isinstance(hash_method, str) else None)

    @classmethod
    async def from_local(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        hash_method: Any = None,
    ) -> File:
        """Upload a local file and return its reference (async; the copy runs on a thread)."""
        return await _to_thread(cls.from_local_sync, local_path, remote_destination, hash_method)

    # ---- reading and writing -------------------------------------------------------------

    def download_sync(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the file to `local_path` (default: a fresh temporary directory); returns the local
        path. A file that is already local is returned as is when no target is given."""
        if local_path is None:
            if _storage.is_local(self.path):
                return _storage.local_path(self.path)
            import tempfile

            local_path = os.path.join(tempfile.mkdtemp(prefix="flyte-file-"), self.name or "file")
        target = os.fspath(local_path)
        if os.path.isdir(target):
            target = os.path.join(target, self.name or _storage.basename(self.path))
        return _storage.download_file(self.path, target)

    async def download(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the file to a local path (async); see `download_sync`."""
        return await _to_thread(self.download_sync, local_path)

    def open_sync(self, mode: str = "rb", **kwargs: Any) -> IO[Any]:
        """Open the file for streaming reads or writes; use it as a context manager."""
        return _storage.open_file(self.path, mode, **kwargs)

    def open(self, mode: str = "rb", block_size: int | None = None, **kwargs: Any) -> _AsyncFileContext:
        """Open the file from async code: `async with f.open("rb") as fh: data = await fh.read()`."""
        if block_size is not None and not _storage.is_local(self.path):
            kwargs["block_size"] = block_size
        return _AsyncFileContext(self.path, mode, kwargs)


class _AsyncFileContext:
    """`async with` wrapper returned by File.open()."""

    def __init__(self, path: str, mode: str, kwargs: dict[str, Any]):
        self._path, self._mode, self._kwargs = path, mode, kwargs
        self._fh: _AsyncFile | None = None

    async def __aenter__(self) -> _AsyncFile:
        if _storage.is_local(self._path):
            raw = _storage.open_file(self._path, self._mode, **self._kwargs)
        else:
            raw = await _to_thread(_storage.open_file, self._path, self._mode, **self._kwargs)
        self._fh = _AsyncFile(raw, local=_storage.is_local(self._path))
        return self._fh

    async def __aexit__(self, *exc: Any) -> None:
        if self._fh is not None:
            await self._fh.close()


class _AsyncFile:
    """An open file with awaitable read/write. Local files are read inline (fast, short); remote
    ones on a worker thread so the event loop keeps running."""

    def __init__(self, raw: IO[Any], *, local: bool):
        self._raw = raw
        self._local = local

    async def _call(self, fn: Any, *args: Any) -> Any:
        if self._local:
            return fn(*args)
        return await _to_thread(fn, *args)

    async def read(self, size: int = -1) -> Any:
        return await self._call(self._raw.read, size)

    async def readline(self) -> Any:
        return await self._call(self._raw.readline)

    async def write(self, data: Any) -> int:
        return await self._call(self._raw.write, data)

    async def seek(self, offset: int, whence: int = 0) -> int:
        return await self._call(self._raw.seek, offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    async def flush(self) -> None:
        await self._call(self._raw.flush)

    async def close(self) -> None:
        await self._call(self._raw.close)

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[Any]:
        while True:
            line = await self.readline()
            if not line:
                return
            yield line
