"""io.Dir: a reference to a directory tree in storage, passed between tasks without its bytes.

Follows Flyte 2's `flyte.io.Dir`: async methods without a suffix (`from_local`, `download`,
`walk`, `list_files`, `get_file`, `exists`) and blocking twins ending in `_sync`. `EmptyDir()` (or
`Dir.empty()`) stands for "no directory was produced"; the receiver checks `d.is_empty`.
"""

from __future__ import annotations

import os
from typing import AsyncIterator, Iterator

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter.io._file import File
from flyte_jupyter.io._ref import StorageRef, _to_thread


class Dir(StorageRef):
    """A directory, local or in storage (`path` is a local path or a URI such as file://, s3://).

    Create one with `Dir.from_local` / `Dir.from_local_sync` (uploads the tree) or
    `Dir.from_existing_remote(uri)`. `Dir[...]` accepts a format parameter and means the same type.
    """

    _flyte_blob_kind = "dir"
    __slots__ = ()

    @property
    def is_empty(self) -> bool:
        """True for the `EmptyDir` sentinel: the producing task made no directory."""
        return self.path == _EMPTY_DIR

    @classmethod
    def empty(cls) -> Dir:
        """The sentinel for "no directory was produced" (see `EmptyDir`)."""
        return EmptyDir()

    @classmethod
    def new_remote(cls, dir_name: str | None = None, hash: str | None = None) -> Dir:
        """A fresh, unique location under the raw data path to write files into (for example with
        `File(path=storage.join(d.path, "x.txt")).open_sync("wb")`); `hash` is its cache key."""
        path = _storage.new_raw_uri(dir_name) if dir_name else _storage.new_raw_uri()
        return cls(path=path, name=dir_name or _storage.basename(path), hash=hash)

    # ---- constructors --------------------------------------------------------------------

    @classmethod
    def from_existing_remote(cls, remote_path: str, dir_cache_key: str | None = None) -> Dir:
        """A reference to a tree already in storage; nothing is copied."""
        return cls(path=remote_path, hash=dir_cache_key)

    @classmethod
    def from_local_sync(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        dir_cache_key: str | None = None,
    ) -> Dir:
        """Upload a local directory tree and return its reference (blocking).

        Without `remote_destination` it goes to a unique location under the raw data path of the
        running task (or the configured default).
        """
        src = os.fspath(local_path)
        if not os.path.isdir(src):
            raise NotADirectoryError(f"Dir.from_local: {src!r} is not a directory")
        name = os.path.basename(os.path.normpath(src))
        dest = remote_destination or _storage.new_raw_uri(name)
        _storage.upload_dir(src, dest)
        return cls(path=dest, name=name, hash=dir_cache_key)

    @classmethod
    async def from_local(
        cls,
        local_path: str | os.PathLike[str],
        remote_destination: str | None = None,
        dir_cache_key: str | None = None,
    ) -> Dir:
        """Upload a local directory tree and return its reference (async)."""
        return await _to_thread(cls.from_local_sync, local_path, remote_destination, dir_cache_key)

    # ---- contents ------------------------------------------------------------------------

    def walk_sync(self, recursive: bool = True, file_pattern: str = "*", max_depth: int | None = None) -> Iterator[File]:
        """The files in the tree (sorted by relative path) as File references; nothing is read.

        `file_pattern` is a glob matched against each file's name; `max_depth` limits how many
        directory levels below this one are entered (0: only this directory).
        """
        for rel in _storage.list_files(self.path, recursive=recursive, relative=True):
            depth = rel.count("/")
            if max_depth is not None and depth > max_depth:
                continue
            base = rel.rsplit("/", 1)[-1]
            if file_pattern not in ("*", "") and not _fnmatch(base, file_pattern):
                continue
            yield File(path=_storage.join(self.path, rel), name=base)

    async def walk(
        self, recursive: bool = True, max_depth: int | None = None, file_pattern: str = "*"
    ) -> AsyncIterator[File]:
        """Async iterator over the files in the tree; see `walk_sync` (the arguments follow
        Flyte's order: `walk(recursive, max_depth)`)."""
        files = await _to_thread(lambda: list(self.walk_sync(recursive, file_pattern, max_depth)))
        for f in files:
            yield f

    def list_files_sync(self) -> list[File]:
        """The files directly in this directory (not in subdirectories)."""
        return list(self.walk_sync(recursive=False))

    async def list_files(self) -> list[File]:
        """The files directly in this directory (async)."""
        return await _to_thread(self.list_files_sync)

    def get_file_sync(self, file_name: str) -> File | None:
        """The file `file_name` (a path relative to this directory), or None if it is absent."""
        uri = _storage.join(self.path, file_name)
        if not _storage.exists(uri) or _storage.is_dir(uri):
            return None
        return File(path=uri, name=_storage.basename(file_name))

    async def get_file(self, file_name: str) -> File | None:
        """Async form of `get_file_sync`."""
        return await _to_thread(self.get_file_sync, file_name)

    def download_sync(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the tree into `local_path` (default: a fresh temporary directory); returns the local
        directory. A directory that is already local is returned as is when no target is given."""
        if local_path is None:
            if _storage.is_local(self.path):
                return _storage.local_path(self.path)
            from flyte_jupyter._internal.runtime.scratch import scratch_dir

            local_path = os.path.join(scratch_dir("dir-"), self.name or "dir")
        return _storage.download_dir(self.path, os.fspath(local_path))

    async def download(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the tree to a local directory (async); see `download_sync`."""
        return await _to_thread(self.download_sync, local_path)


_EMPTY_DIR = "::flyte-empty-dir::"


class EmptyDir(Dir):
    """A `Dir` meaning "no directory was produced", for a task that only sometimes makes one
    (instead of `Optional[Dir]`). It travels as a plain Dir whose `is_empty` is True."""

    __slots__ = ()

    def __init__(self, path: str | os.PathLike[str] = _EMPTY_DIR, name: str | None = "", format: str = "",
                 hash: str | None = None):
        super().__init__(_EMPTY_DIR, name="", format=format, hash=hash)


def _fnmatch(name: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatch(name, pattern)
