"""Small storage helpers over fsspec, with a fast path for local files.

Every piece of data that crosses an action boundary (bundles, inputs.pb/outputs.pb, offloaded
values, io.File/io.Dir) goes through here, so one data directory (`file://`) on a laptop and an
object store (s3://, gs://, ...) on a cluster look the same to the callers. Local paths and
`file://` URIs are handled with the standard library: fsspec costs ~80 ms to import and is only
imported for other schemes.

Options of a remote filesystem (an S3 endpoint, keys) come from, later winning: the environment as
each fsspec package reads it (`AWS_*` for s3fs), `$FLYTE_JUPYTER_STORAGE_OPTIONS` (JSON
`{protocol: {option: value}}`: how a backend hands its `storage: {options}` to every process it
starts), and the client config's `storage_options` (the backend's client.yaml carries them).
"""

from __future__ import annotations

import contextlib
import itertools
import os
from typing import IO, Any

STORAGE_OPTIONS_ENV = "FLYTE_JUPYTER_STORAGE_OPTIONS"
_default_raw_data_path: str | None = None
_temp_names = itertools.count()  # next() on a count is atomic under the GIL: safe across threads


# ---------------------------------------------------------------------------------------------
# URIs and local paths


def _scheme(uri: str) -> str:
    head, sep, _ = uri.partition("://")
    if not sep or "/" in head or os.sep in head:
        return ""
    # "C://x" on Windows is a drive, not a scheme.
    return "" if len(head) == 1 else head.lower()


def is_local(uri: str | os.PathLike[str]) -> bool:
    """True for a plain path or a `file://` URI: data this machine can open directly."""
    return _scheme(os.fspath(uri)) in ("", "file")


def is_plain_path(uri: str | os.PathLike[str]) -> bool:
    """True for a path without a scheme: data only this machine sees (unlike a `file://` URI,
    which names storage, e.g. the embedded backend's data directory)."""
    return _scheme(os.fspath(uri)) == ""


def to_uri(path: str | os.PathLike[str]) -> str:
    """A local path as an absolute `file://` URI; other URIs are returned unchanged."""
    p = os.fspath(path)
    if not is_local(p):
        return p
    if p.startswith("file://"):
        return p
    from pathlib import Path

    return Path(p).expanduser().resolve().as_uri()


def local_path(uri: str | os.PathLike[str]) -> str:
    """The filesystem path of a plain path or a `file://` URI.

    Raises ValueError for remote URIs, which must be downloaded first (see `download_file`).
    """
    u = os.fspath(uri)
    scheme = _scheme(u)
    if scheme == "":
        return u
    if scheme != "file":
        raise ValueError(f"{u!r} is not a local path; download it first (flyte_jupyter._internal.runtime.storage.download_file)")
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(u)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{u!r} names a remote host; only file:///absolute/path URIs are local")
    return unquote(parts.path)


def join(base: str, *parts: str) -> str:
    """Join URI (or path) segments with exactly one '/' between them."""
    out = base.rstrip("/") if base not in ("/", "") else base
    for part in parts:
        part = str(part).strip("/")
        if not part:
            continue
        out = f"{out}/{part}" if out and not out.endswith("/") else f"{out}{part}"
    return out


def basename(uri: str) -> str:
    """Last path segment of a URI or path, ignoring a trailing '/'."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------------------------
# Default location for data that a caller did not place explicitly


def set_default_raw_data_path(uri: str | None) -> None:
    """Where `io.File.from_local()` and friends upload when neither the caller nor the running
    task's context names a place (called by `flyte_jupyter.init`)."""
    global _default_raw_data_path
    _default_raw_data_path = to_uri(uri) if uri else None


def raw_data_path() -> str:
    """The raw data prefix in effect: the running task's, else one set with
    `set_default_raw_data_path`, else the client config's `raw_data_path`, else `raw/` in the
    local data directory."""
    from flyte_jupyter import _config
    from flyte_jupyter._context import ctx

    tc = ctx()
    if tc is not None and tc.raw_data_path:
        return tc.raw_data_path
    if _default_raw_data_path:
        return _default_raw_data_path
    configured = getattr(_config.current(), "raw_data_path", None)
    if configured:
        return configured
    return to_uri(_config.data_dir() / "raw")


def new_raw_uri(name: str | None = None) -> str:
    """A fresh, unique location under the raw data prefix (optionally ending in `name`)."""
    import uuid

    token = uuid.uuid4().hex
    return join(raw_data_path(), token, name) if name else join(raw_data_path(), token)


# ---------------------------------------------------------------------------------------------
# fsspec for everything that is not local


def storage_options(protocol: str) -> dict[str, Any]:
    """The fsspec options for `protocol` (see the module docstring)."""
    import json

    from flyte_jupyter import _config

    out: dict[str, Any] = {}
    raw = os.environ.get(STORAGE_OPTIONS_ENV)
    if raw:
        try:
            from_env = json.loads(raw)
        except ValueError:
            raise ValueError(f"${STORAGE_OPTIONS_ENV} is not JSON: it must be {{protocol: {{option: value}}}}") from None
        out.update((from_env or {}).get(protocol) or {})
    out.update((_config.current().storage_options or {}).get(protocol) or {})
    return out


def filesystem(uri: str) -> tuple[Any, str]:
    """(fsspec filesystem, path within it) for any URI, with its `storage_options`; imports fsspec
    on first use."""
    import fsspec.core

    return fsspec.core.url_to_fs(uri, **storage_options(_scheme(uri)))


# ---------------------------------------------------------------------------------------------
# Bytes


def put_bytes(uri: str, data: bytes) -> str:
    """Write `data` to `uri`, creating parents. Local writes are atomic (temp file + rename), so
    concurrent writers of the same content-addressed object never expose a partial file.

    Every action's inputs and outputs go through here, so the local path costs one open, one write
    and one rename: the temp name is unique by pid and counter, and parents are made only when
    the first open finds them missing."""
    if is_local(uri):
        path = local_path(uri)
        tmp = f"{path}.{os.getpid()}.{next(_temp_names)}.tmp"
        try:
            fh = open(tmp, "wb")
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            fh = open(tmp, "wb")
        try:
            with fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(Exception):
                os.unlink(tmp)
            raise
        return uri
    fs, path = filesystem(uri)
    parent = path.rsplit("/", 1)[0]
    with contextlib.suppress(Exception):
        fs.makedirs(parent, exist_ok=True)
    fs.pipe_file(path, bytes(data))
    return uri


def get_bytes(uri: str) -> bytes:
    """Read the whole object at `uri`."""
    if is_local(uri):
        with open(local_path(uri), "rb") as f:
            return f.read()
    fs, path = filesystem(uri)
    return fs.cat_file(path)


def exists(uri: str) -> bool:
    """Whether a file or directory exists at `uri`."""
    if is_local(uri):
        return os.path.exists(local_path(uri))
    fs, path = filesystem(uri)
    return bool(fs.exists(path))


def is_dir(uri: str) -> bool:
    """Whether `uri` is a directory (or, on object stores, a prefix with objects under it)."""
    if is_local(uri):
        return os.path.isdir(local_path(uri))
    fs, path = filesystem(uri)
    return bool(fs.isdir(path))


def open_file(uri: str, mode: str = "rb", **kwargs: Any) -> IO[Any]:
    """Open `uri` as a file object (use it as a context manager); parents are created for writes."""
    if is_local(uri):
        path = local_path(uri)
        if any(c in mode for c in "wax"):
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return open(path, mode, **kwargs)  # noqa: SIM115 - the caller closes it
    fs, path = filesystem(uri)
    if any(c in mode for c in "wax"):
        with contextlib.suppress(Exception):
            fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    return fs.open(path, mode, **kwargs)


# ---------------------------------------------------------------------------------------------
# Files and directories


def upload_file(local: str | os.PathLike[str], uri: str) -> str:
    """Copy a local file to `uri`; returns `uri`."""
    src = os.fspath(local)
    if not os.path.isfile(src):
        raise FileNotFoundError(f"cannot upload {src!r}: no such file")
    if is_local(uri):
        dst = local_path(uri)
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        if os.path.abspath(src) != os.path.abspath(dst):
            _shutil().copyfile(src, dst)
        return uri
    fs, path = filesystem(uri)
    fs.put_file(src, path)
    return uri


def download_file(uri: str, local: str | os.PathLike[str]) -> str:
    """Copy the object at `uri` to the local path `local`; returns the local path."""
    dst = os.fspath(local)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    if is_local(uri):
        src = local_path(uri)
        if not os.path.isfile(src):
            raise FileNotFoundError(f"cannot download {uri!r}: no such file")
        if os.path.abspath(src) != os.path.abspath(dst):
            _shutil().copyfile(src, dst)
        return dst
    fs, path = filesystem(uri)
    fs.get_file(path, dst)
    return dst


def upload_dir(local: str | os.PathLike[str], uri: str) -> str:
    """Copy a local directory tree to `uri` (files keep their relative paths); returns `uri`."""
    src = os.fspath(local)
    if not os.path.isdir(src):
        raise NotADirectoryError(f"cannot upload {src!r}: no such directory")
    if is_local(uri):
        dst = local_path(uri)
        if os.path.abspath(src) != os.path.abspath(dst):
            _shutil().copytree(src, dst, dirs_exist_ok=True)
        return uri
    for rel in _walk_local(src):
        upload_file(os.path.join(src, rel), join(uri, rel))
    return uri


def download_dir(uri: str, local: str | os.PathLike[str]) -> str:
    """Copy the tree under `uri` into the local directory `local`; returns the local path."""
    dst = os.fspath(local)
    if is_local(uri):
        src = local_path(uri)
        if not os.path.isdir(src):
            raise NotADirectoryError(f"cannot download {uri!r}: no such directory")
        if os.path.abspath(src) != os.path.abspath(dst):
            _shutil().copytree(src, dst, dirs_exist_ok=True)
        return dst
    os.makedirs(dst, exist_ok=True)
    for rel in list_files(uri, recursive=True, relative=True):
        download_file(join(uri, rel), os.path.join(dst, *rel.split("/")))
    return dst


def list_files(uri: str, *, recursive: bool = True, relative: bool = False) -> list[str]:
    """Files under the directory `uri`, sorted: full URIs, or '/'-separated paths relative to
    `uri` when `relative` is true."""
    if is_local(uri):
        root = local_path(uri)
        if recursive:
            rels = _walk_local(root)
        else:
            rels = sorted(n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n)))
    else:
        fs, path = filesystem(uri)
        base = path.rstrip("/")
        if recursive:
            found = fs.find(base)
        else:
            found = [e["name"] for e in fs.ls(base, detail=True) if e.get("type") == "file"]
        rels = sorted(p[len(base) :].lstrip("/") for p in found)
    return rels if relative else [join(uri, r) for r in rels]


def _walk_local(root: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in filenames:
            rel = name if rel_dir == "." else os.path.join(rel_dir, name)
            out.append(rel.replace(os.sep, "/"))
    return sorted(out)



def _shutil() -> Any:
    import shutil

    return shutil
