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
from flyte_jupyter.io._hashing import HashingWriter, hash_chunks, split_hash_arg
from flyte_jupyter.io._ref import StorageRef, _to_thread


class File(StorageRef):
    """A file, local or in storage (`path` is a local path or a URI such as file://, s3://).

    Create one with `File.from_local` / `File.from_local_sync` (uploads), `File.new_remote()`
    (a fresh location to write to), or `File.from_existing_remote(uri)`. `File[...]` accepts a
    format parameter for Flyte compatibility and means the same type.
    """

    _flyte_blob_kind = "file"
    __slots__ = ("hash_method",)

    def __init__(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        format: str = "",
        hash: str | None = None,
        hash_method: Any = None,
    ):
        super().__init__(path, name, format, hash)
        self.hash_method = hash_method  # computes `hash` from what open("wb") writes; never sent

    # ---- constructors --------------------------------------------------------------------

    @classmethod
    def from_existing_remote(cls, remote_path: str, file_cache_key: str | None = None) -> File:
        """A reference to data already in storage; nothing is copied."""
        return cls(path=remote_path, hash=file_cache_key)

    @classmethod
    def new_remote(cls, file_name: str | None = None, hash_method: Any = None) -> File:
        """A fresh, unique location under the raw data path, to be written with `open("wb")`.

        `hash_method`: a string is the file's cache key; a hash method (`HashFunction`) computes
        the key from the bytes written through `open`/`open_sync`, when the handle is closed."""
        key, method = split_hash_arg(hash_method)
        return cls(path=_storage.new_raw_uri(file_name or "file"), name=file_name, hash=key, hash_method=method)

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
        path of the running task (or the configured default). `hash_method` sets the file's
        cache key: a string is the key, a hash method (`HashFunction.from_fn(fn)`, or any object
        with `update`/`result`) computes it from the file's bytes. With a key, the file enters
        cache keys and child action names by that key instead of by its path.
        """
        src = os.fspath(local_path)
        if not os.path.isfile(src):
            raise FileNotFoundError(f"File.from_local: {src!r} is not a file")
        key, method = split_hash_arg(hash_method)
        if method is not None:
            key = hash_chunks(method, _read_chunks(src))
        name = os.path.basename(src)
        dest = remote_destination or _storage.new_raw_uri(name)
        _storage.upload_file(src, dest)
        return cls(path=dest, name=name, hash=key)

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
            from flyte_jupyter._internal.runtime.scratch import scratch_dir

            local_path = os.path.join(scratch_dir("file-"), self.name or "file")
        target = os.fspath(local_path)
        if os.path.isdir(target):
            target = os.path.join(target, self.name or _storage.basename(self.path))
        return _storage.download_file(self.path, target)

    async def download(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the file to a local path (async); see `download_sync`."""
        return await _to_thread(self.download_sync, local_path)

    def open_sync(self, mode: str = "rb", block_size: int | None = None, **kwargs: Any) -> IO[Any]:
        """Open the file for streaming reads or writes; use it as a context manager.

        Writing a file made with a hash method (`new_remote(hash_method=...)`) computes its
        `hash` from the bytes written, when the handle is closed."""
        _drop_fsspec_only(kwargs, self.path, block_size)
        raw = _storage.open_file(self.path, mode, **kwargs)
        return self._maybe_hashing(raw, mode)

    def open(self, mode: str = "rb", block_size: int | None = None, **kwargs: Any) -> _AsyncFileContext:
        """Open the file from async code: `async with f.open("rb") as fh: data = await fh.read()`.

        The handle has awaitable `read(n)`, `readline()`, `readlines()`, `write(data)`,
        `writelines(lines)`, `flush()`, `truncate()` and `close()`; `async for line in fh` walks
        the lines; `seek()` and `tell()` answer at once and may also be awaited (Flyte's local
        handles need `await`, its remote ones not: both spellings work here)."""
        _drop_fsspec_only(kwargs, self.path, block_size)
        return _AsyncFileContext(self, mode, kwargs)

    def _maybe_hashing(self, raw: Any, mode: str) -> Any:
        if self.hash_method is None or not any(c in mode for c in "wax"):
            return raw

        def keep(key: str) -> None:
            self.hash = key

        return HashingWriter(raw, self.hash_method, keep)


def _drop_fsspec_only(kwargs: dict[str, Any], path: str, block_size: int | None) -> None:
    """Flyte's open() takes fsspec tuning arguments; a local file (opened with `open`) has no use
    for them, a remote one gets them."""
    local = _storage.is_local(path)
    if block_size is not None and not local:
        kwargs["block_size"] = block_size
    for key in ("cache_type", "cache_options", "compression"):
        if key in kwargs and (local or kwargs[key] is None):
            del kwargs[key]


def _read_chunks(path: str, size: int = 1 << 20) -> Any:
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(size)
            if not chunk:
                return
            yield chunk


class _Offset(int):
    """A position that is an int at once and can also be awaited (`await fh.tell()`)."""

    def __await__(self) -> Any:
        yield from ()
        return int(self)


class _AsyncFileContext:
    """`async with` wrapper returned by File.open()."""

    def __init__(self, file: File, mode: str, kwargs: dict[str, Any]):
        self._file, self._mode, self._kwargs = file, mode, kwargs
        self._fh: _AsyncFile | None = None

    async def __aenter__(self) -> _AsyncFile:
        path = self._file.path
        local = _storage.is_local(path)
        if local:
            raw = _storage.open_file(path, self._mode, **self._kwargs)
        else:
            raw = await _to_thread(_storage.open_file, path, self._mode, **self._kwargs)
        self._fh = _AsyncFile(self._file._maybe_hashing(raw, self._mode), local=local, mode=self._mode)
        return self._fh

    async def __aexit__(self, *exc: Any) -> None:
        if self._fh is not None:
            await self._fh.close()


class _AsyncFile:
    """An open file with awaitable reads and writes. Local files are read inline (fast, short);
    remote ones on a worker thread so the event loop keeps running."""

    def __init__(self, raw: IO[Any], *, local: bool, mode: str = "rb"):
        self._raw = raw
        self._local = local
        self._closed = False
        self.mode = mode

    async def _call(self, fn: Any, *args: Any) -> Any:
        if self._local:
            return fn(*args)
        return await _to_thread(fn, *args)

    @property
    def name(self) -> str:
        return str(getattr(self._raw, "name", getattr(self._raw, "path", "")))

    async def read(self, size: int = -1) -> Any:
        return await self._call(self._raw.read, size)

    async def readline(self, size: int = -1) -> Any:
        if size is None or size < 0:  # fsspec's remote handles take no size
            return await self._call(self._raw.readline)
        return await self._call(self._raw.readline, size)

    async def readlines(self, hint: int = -1) -> list[Any]:
        if hint is None or hint < 0:
            return list(await self._call(self._raw.readlines))
        return list(await self._call(self._raw.readlines, hint))

    async def write(self, data: Any) -> int:
        return await self._call(self._raw.write, data)

    async def writelines(self, lines: Any) -> None:
        await self._call(self._raw.writelines, list(lines))

    def seek(self, offset: int, whence: int = 0) -> _Offset:
        return _Offset(self._raw.seek(offset, whence))

    def tell(self) -> _Offset:
        return _Offset(self._raw.tell())

    async def truncate(self, size: int | None = None) -> int:
        return await self._call(self._raw.truncate, size)

    async def flush(self) -> None:
        await self._call(self._raw.flush)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._call(self._raw.close)

    def readable(self) -> bool:
        return bool(self._raw.readable())

    def writable(self) -> bool:
        return bool(self._raw.writable())

    def seekable(self) -> bool:
        return bool(self._raw.seekable())

    @property
    def closed(self) -> bool:
        return self._closed or bool(self._raw.closed)

    async def __aenter__(self) -> _AsyncFile:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[Any]:
        while True:
            line = await self.readline()
            if not line:
                return
            yield line
