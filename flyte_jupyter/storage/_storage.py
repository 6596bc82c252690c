"""The `flyte.storage` functions, over `_internal/runtime/storage` (fsspec, with local fast paths)."""

from __future__ import annotations

import asyncio
import os
import pathlib
import uuid
from typing import Any, AsyncIterable, AsyncIterator, Optional, Union

from flyte_jupyter._internal.runtime import storage as _rs
from flyte_jupyter._internal.runtime.scratch import scratch_dir
from flyte_jupyter.storage._config import configured

PathLike = Union[str, pathlib.Path]


def _protocol(path: str) -> str:
    return _rs._scheme(str(path)) or "file"


def is_remote(path: PathLike) -> bool:
    """True for a path in an object store (any scheme but file://)."""
    return not _rs.is_local(str(path))


def join(*paths: str) -> str:
    """Join path parts with '/' (keeping a scheme's `//`)."""
    if not paths:
        raise TypeError("join needs at least one path")
    return _rs.join(str(paths[0]), *(str(p) for p in paths[1:]))


def get_random_local_path(file_path_or_file_name: Optional[PathLike] = None) -> pathlib.Path:
    """A fresh path in a new temporary directory; it ends in the given file name when there is one."""
    folder = pathlib.Path(scratch_dir("tmp-")) / uuid.uuid4().hex
    tail = os.path.basename(str(file_path_or_file_name)) if file_path_or_file_name else ""
    if tail:
        folder.mkdir(parents=True, exist_ok=True)
        return folder / tail
    return folder


def get_random_local_directory() -> pathlib.Path:
    """A fresh, empty local directory."""
    path = get_random_local_path(None)
    path.mkdir(parents=True, exist_ok=True)
    return path


def get_configured_fsspec_kwargs(protocol: Optional[str] = None, anonymous: bool = False) -> dict[str, Any]:
    """The fsspec options `flyte.init(storage=...)` set for `protocol` ({} when none)."""
    settings = configured(protocol)
    return settings.get_fsspec_kwargs(anonymous=anonymous) if settings is not None else {}


def get_underlying_filesystem(protocol: Optional[str] = None, anonymous: bool = False,
                              path: Optional[str] = None, **kwargs: Any) -> Any:
    """The fsspec filesystem for `protocol` (or for `path`'s), made with the configured options."""
    import fsspec

    if protocol is None:
        protocol = _protocol(path or "")
    options = get_configured_fsspec_kwargs(protocol, anonymous=anonymous)
    options.update(kwargs)
    return fsspec.filesystem(protocol, **options)


def _remote_fs(path: str) -> tuple[Any, str]:
    """(filesystem, path inside it) for a non-local path, with the configured options."""
    options = get_configured_fsspec_kwargs(_protocol(path))
    if not options:
        return _rs.filesystem(path)
    import fsspec.core

    return fsspec.core.url_to_fs(path, **options)


def _default_remote(name: str) -> str:
    return _rs.join(_rs.raw_data_path(), uuid.uuid4().hex, name) if name else _rs.new_raw_uri()


# -- copying whole files and trees ----------------------------------------------------------------


def _get_sync(from_path: str, to_path: Optional[PathLike], recursive: bool) -> str:
    if not to_path:
        to_path = get_random_local_path(os.path.basename(from_path.rstrip("/")) or None)
    dst = os.fspath(to_path)
    if not recursive and (dst.endswith(os.sep) or os.path.isdir(dst)):
        dst = os.path.join(dst, os.path.basename(from_path.rstrip("/")))
    if recursive or _rs.is_dir(from_path):
        return _rs.download_dir(from_path, dst)
    if _rs.is_local(from_path):
        return _rs.download_file(from_path, dst)
    fs, inner = _remote_fs(from_path)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    fs.get_file(inner, dst)
    return dst


async def get(from_path: str, to_path: Optional[PathLike] = None, recursive: bool = False, **kwargs: Any) -> str:
    """Copy the file (or, with `recursive`, the tree) at `from_path` to a local path; returns that
    path (a fresh temporary one, ending in the same file name, when `to_path` is not given)."""
    return await asyncio.to_thread(_get_sync, str(from_path), to_path, recursive)


def _put_sync(from_path: str, to_path: Optional[str], recursive: bool) -> str:
    src = from_path[len("file://"):] if from_path.startswith("file://") else from_path
    if not to_path:
        to_path = _default_remote(os.path.basename(src.rstrip("/")))
    if recursive or os.path.isdir(src):
        _rs.upload_dir(src, to_path)
        return to_path
    if _rs.is_local(to_path):
        return _rs.upload_file(src, to_path)
    fs, inner = _remote_fs(to_path)
    fs.put_file(src, inner)
    return to_path


async def put(from_path: str, to_path: Optional[str] = None, recursive: bool = False,
              batch_size: Optional[int] = None, chunk_size: Optional[int] = None,
              max_concurrency: Optional[int] = None, **kwargs: Any) -> str:
    """Copy a local file (or, with `recursive`, a directory) to `to_path`; returns where it went
    (a fresh place under the raw data prefix when `to_path` is not given). `batch_size`,
    `chunk_size` and `max_concurrency` are accepted for Flyte's signature."""
    return await asyncio.to_thread(_put_sync, str(from_path), to_path, recursive)


# -- existence ------------------------------------------------------------------------------------


def exists_sync(path: str, **kwargs: Any) -> bool:
    """Whether a file or directory is at `path`."""
    path = str(path)
    if _rs.is_local(path):
        return _rs.exists(path)
    fs, inner = _remote_fs(path)
    return bool(fs.exists(inner))


async def exists(path: str, **kwargs: Any) -> bool:
    """Whether a file or directory is at `path`."""
    if _rs.is_local(str(path)):
        return exists_sync(path)
    return await asyncio.to_thread(exists_sync, path)


# -- open files -----------------------------------------------------------------------------------


class AsyncFile:
    """An open file with awaitable `read`, `write` and `close`; also an async context manager."""

    def __init__(self, fh: Any, local: bool) -> None:
        self._fh = fh
        self._local = local

    async def _do(self, fn: Any, *args: Any) -> Any:
        return fn(*args) if self._local else await asyncio.to_thread(fn, *args)

    async def read(self, size: int = -1) -> bytes:
        return await self._do(self._fh.read, size)

    async def write(self, data: Any) -> int:
        return await self._do(self._fh.write, data)

    async def close(self) -> None:
        await self._do(self._fh.close)

    @property
    def closed(self) -> bool:
        return bool(self._fh.closed)

    async def __aenter__(self) -> "AsyncFile":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def _open_sync(path: str, mode: str, **kwargs: Any) -> Any:
    if _rs.is_local(path):
        return _rs.open_file(path, mode, **kwargs)
    fs, inner = _remote_fs(path)
    return fs.open(inner, mode, **kwargs)


async def open(path: str, mode: str = "rb", **kwargs: Any) -> AsyncFile:
    """Open `path` (local or remote) and return an async file: `await f.read()`, `await f.write(b)`,
    `await f.close()`, or `async with await flyte.storage.open(p, "wb") as f: ...`."""
    local = _rs.is_local(str(path))
    fh = _open_sync(str(path), mode, **kwargs) if local else await asyncio.to_thread(_open_sync, str(path), mode,
                                                                                      **kwargs)
    return AsyncFile(fh, local)


async def put_stream(data_iterable: Union[AsyncIterable[bytes], bytes], *, name: Optional[str] = None,
                     to_path: Optional[str] = None, size_hint: Optional[int] = None,
                     chunk_size: Optional[int] = None, max_concurrency: Optional[int] = None,
                     **kwargs: Any) -> str:
    """Write bytes (or an async iterable of bytes) to `to_path` (default: a fresh place under the
    raw data prefix, ending in `name`); returns the path written."""
    target = to_path or _default_remote(name or "")
    fh = await open(target, "wb")
    try:
        if isinstance(data_iterable, (bytes, bytearray, memoryview)):
            await fh.write(bytes(data_iterable))
        else:
            async for chunk in data_iterable:
                await fh.write(chunk)
    finally:
        await fh.close()
    return str(target)


async def get_stream(path: str, chunk_size: int = 10 * 2**20, **kwargs: Any) -> AsyncIterator[bytes]:
    """The bytes at `path`, in chunks of at most `chunk_size`."""
    fh = await open(path, "rb")
    try:
        while True:
            chunk = await fh.read(chunk_size)
            if not chunk:
                return
            yield bytes(chunk)
    finally:
        await fh.close()

