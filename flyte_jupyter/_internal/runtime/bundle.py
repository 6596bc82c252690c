"""Code bundles: how an action gets the code of its task.

Two kinds, as in Flyte 2:

- a source bundle: a deterministic ``tar.gz`` of the source files the run needs (members sorted,
  mtimes, owners and modes fixed, gzip header without a timestamp), named by its sha256 and
  uploaded once: unchanged code uploads nothing. The action extracts it and imports the task's
  module by name (``--tgz URI --module-name M --task-name T``).
- a pickle bundle: for tasks defined in ``__main__`` or a notebook, whose functions have no module to
  import: the tasks of the run's environments are cloudpickled by value, gzipped, and addressed by
  sha256 too (``--pkl URI --task-name T``).

`safe_extract` extracts member by member against the real filesystem, into a staging directory
moved into place only when the whole bundle was accepted: it refuses absolute and ``..`` names, hard
links, devices and fifos, symlinks that do not resolve (on disk, as they are made) to a member inside
the destination, any member that would be written through a link or over an earlier one, and bundles
past the caps on uncompressed size, member count and name length (``$FLYTE_JUPYTER_BUNDLE_MAX_BYTES``,
``..._MAX_MEMBERS``, ``..._MAX_NAME``). A pickle bundle is code by design; only its decompressed size
is capped.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import importlib
import importlib.util
import io
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from flyte_jupyter._internal.runtime import code_origins as _origins
from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter.errors import UnsafeBundleError

DEFAULT_RESOLVER = "flyte_jupyter._internal.runtime.bundle.DefaultResolver"
_EXCLUDE_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", ".venv", "venv", "node_modules", ".tox"}





@dataclasses.dataclass(frozen=True)
class Bundle:
    """A built bundle: its kind ("tgz" or "pkl"), storage URI and content digest."""

    kind: str
    uri: str
    digest: str
    module_name: str = ""  # tgz: the module to import in the action
    task_names: tuple[str, ...] = ()  # pkl: the tasks it holds


# -- source bundles --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _site_dirs() -> tuple[str, ...]:
    """The interpreter's site and stdlib directories (fixed for a process; ~0.1 ms each to ask
    sysconfig, which every run's bundle would otherwise pay)."""
    import site
    import sysconfig

    dirs = set(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    dirs.add(site.getusersitepackages() if hasattr(site, "getusersitepackages") else "")
    for key in ("purelib", "platlib", "stdlib", "platstdlib"):
        dirs.add(sysconfig.get_paths().get(key, ""))
    return tuple(os.path.realpath(d) for d in dirs if d)


def source_root(module_name: str) -> Path:
    """The sys.path entry the module was imported from (the root the action imports it from)."""
    module = sys.modules[module_name]
    if module.__file__ is None:  # callers bundle only modules with a .py file (is_interactive)
        raise ValueError(f"module {module_name!r} has no source file to bundle")
    file = os.path.realpath(module.__file__)
    depth = module_name.count(".") + (1 if os.path.basename(file) == "__init__.py" else 0)
    root = Path(file).parent
    for _ in range(depth):
        root = root.parent
    return root


def source_files(module_name: str) -> tuple[Path, list[Path]]:
    """The root and the files of every loaded module under it, plus the task's own package data:
    what the run needs, without site-packages or the SDK itself. The scan of every loaded module
    (a thousand with grpc) is kept until a module is imported or removed: a run of unchanged
    code reads only its files' stats (`build_bundle`)."""
    modules = sys.modules
    mark = (module_name, len(modules), next(reversed(modules), None))
    known = _SCANNED.get(module_name)
    if known is not None and known[0] == mark:
        return known[1], list(known[2])
    root, files = _scan_sources(module_name)
    _SCANNED[module_name] = (mark, root, tuple(files))
    return root, files


def _scan_sources(module_name: str) -> tuple[Path, list[Path]]:
    root = source_root(module_name)
    root_text = str(root) + os.sep
    site_dirs = _site_dirs()
    files: set[Path] = set()
    for mod in list(sys.modules.values()):
        file = getattr(mod, "__file__", None)
        if not file or not file.endswith(".py"):
            continue
        real = _REALPATHS.get(file)
        if real is None:
            real = _REALPATHS[file] = os.path.realpath(file)
        if not real.startswith(root_text) or any(real.startswith(s + os.sep) for s in site_dirs):
            continue
        rel = Path(real).relative_to(root)
        if rel.parts and rel.parts[0] == "flyte_jupyter" or _EXCLUDE_DIRS.intersection(rel.parts):
            continue
        files.add(Path(real))
    return root, sorted(files)


_REALPATHS: dict[str, str] = {}  # module file -> real path (a module's file does not move)
# module -> ((module, how many modules were loaded, the last loaded), root, files): `source_files`
_SCANNED: dict[str, tuple[tuple, Path, tuple[Path, ...]]] = {}
_BUILT: dict[tuple, tuple[str, str]] = {}  # (storage root, files with mtimes and sizes) -> (uri, digest)


def make_tgz(root: Path, files: list[Path]) -> bytes:
    """A deterministic tar.gz of `files` (relative to `root`): same content, same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
            data = path.read_bytes()
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def _upload_once(data: bytes, storage_root: str, suffix: str) -> tuple[str, str]:
    digest = hashlib.sha256(data).hexdigest()
    uri = _storage.join(storage_root, "bundles", f"{digest}{suffix}")
    if not _storage.exists(uri):
        _storage.put_bytes(uri, data)
    return uri, digest


def is_interactive(task: Any) -> bool:
    """Tasks from __main__, a notebook or a console have no importable module: pickle them."""
    module = getattr(task.func, "__module__", "__main__")
    if module in ("__main__", "builtins") or module not in sys.modules:
        return True
    file = getattr(sys.modules[module], "__file__", None)
    return not file or not file.endswith(".py")


def build_bundle(task: Any, storage_root: str) -> Bundle:
    """Build and upload (once) the bundle for a run of `task`."""
    if is_interactive(task):
        return build_pickle_bundle(task, storage_root)
    module_name = task.func.__module__
    root, files = source_files(module_name)
    stats = [(str(f), f.stat()) for f in files]
    key = (storage_root, str(root), tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats))
    known = _BUILT.get(key)
    if known is None or not _storage.exists(known[0]):
        known = _BUILT[key] = _upload_once(make_tgz(root, files), storage_root, ".tar.gz")
    return Bundle("tgz", known[0], known[1], module_name=module_name)


def environment_tasks(task: Any) -> dict[str, Any]:
    """Every task of the task's environment and of the environments it depends on."""
    out: dict[str, Any] = {task.name: task}
    seen: set[int] = set()
    stack = [task.env]
    while stack:
        env = stack.pop()
        if env is None or id(env) in seen:
            continue
        seen.add(id(env))
        tasks = getattr(env, "tasks", None) or {}
        for t in (tasks.values() if isinstance(tasks, dict) else tasks):
            out.setdefault(t.name, t)
        stack.extend(getattr(env, "depends_on", None) or ())
    return out


def pickle_tasks(tasks: dict[str, Any], root: str) -> bytes:
    """The payload of a pickle bundle: the tasks cloudpickled (by value for __main__ code), and the
    origins of their code, so an action's traceback can name the cells (see `code_origins`)."""
    import cloudpickle

    main = sys.modules.get("__main__")
    if main is not None:
        try:
            cloudpickle.register_pickle_by_value(main)
        except (ValueError, TypeError):
            pass
    recorder = _origins.Recorder()
    with io.BytesIO() as out:
        # the recorder last: it is saved after the tasks, so it holds the origins of all their code
        _origins.recording_pickler(out, recorder).dump({"tasks": tasks, "root": root, _origins.ORIGINS_KEY: recorder})
        return out.getvalue()


def build_pickle_bundle(task: Any, storage_root: str, tasks: dict[str, Any] | None = None) -> Bundle:
    """Pickle the tasks (`pickle_tasks`), gzip, upload once."""
    tasks = tasks if tasks is not None else environment_tasks(task)
    data = gzip.compress(pickle_tasks(tasks, task.name), mtime=0)
    uri, digest = _upload_once(data, storage_root, ".pkl.gz")
    return Bundle("pkl", uri, digest, task_names=tuple(sorted(tasks)))


# -- in the action ---------------------------------------------------------------------------------


# Extraction is checked member by member against the real filesystem, never against names alone:
# a bundle is untrusted input even though the SDK built it (anyone who can write to the bundle store
# can replace one). The rules (build_bundle makes only regular files, so they cost a real bundle
# nothing):
# - names: relative, no `..`, no backslash or NUL, at most $FLYTE_JUPYTER_BUNDLE_MAX_NAME characters;
# - kinds: regular files, directories and symlinks only; never a hard link, device, fifo or sparse file;
# - a symlink must be relative and point to something already extracted, inside the destination
#   (its target is resolved strictly with os.path.realpath on disk as it is made, so `d -> .` then
#   `u -> d/..` is refused at `u`);
# - each member's parent is looked up on disk (links resolved, realpath) and must be a directory
#   inside the destination; no path is written twice (a member never replaces a file or a link made
#   by an earlier one), and files are opened with O_CREAT|O_EXCL|O_NOFOLLOW, never through a link;
# - caps, checked as the stream is read: at most $FLYTE_JUPYTER_BUNDLE_MAX_BYTES bytes uncompressed
#   (the whole tar stream, headers included; a member's declared size is checked before its data is
#   read), at most $FLYTE_JUPYTER_BUNDLE_MAX_MEMBERS members, extended headers of at most 1 MiB;
# - members are streamed to disk in chunks, into a staging directory that is moved into place only
#   once the whole bundle has been accepted: a refused bundle leaves nothing behind.

MAX_BYTES_ENV = "FLYTE_JUPYTER_BUNDLE_MAX_BYTES"
MAX_MEMBERS_ENV = "FLYTE_JUPYTER_BUNDLE_MAX_MEMBERS"
MAX_NAME_ENV = "FLYTE_JUPYTER_BUNDLE_MAX_NAME"
DEFAULT_MAX_BYTES = 512 << 20
DEFAULT_MAX_MEMBERS = 20_000
DEFAULT_MAX_NAME = 1024
_MAX_EXTENDED_HEADER = 1 << 20  # a pax or GNU long-name header: tarfile reads each one whole
_CHUNK = 1 << 20
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_EXTENDED_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                   tarfile.SOLARIS_XHDTYPE)


def _env_cap(var: str, default: int) -> int:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"${var} must be a positive whole number, not {raw!r}")
    return value


@dataclasses.dataclass(frozen=True)
class BundleLimits:
    """What extracting (or unpickling) one bundle may produce; `from_env` reads the caps' variables."""

    max_bytes: int = DEFAULT_MAX_BYTES  # uncompressed: the whole tar stream, or the pickle
    max_members: int = DEFAULT_MAX_MEMBERS
    max_name: int = DEFAULT_MAX_NAME  # characters in a member's name or a link's target

    @classmethod
    def from_env(cls) -> BundleLimits:
        return cls(_env_cap(MAX_BYTES_ENV, DEFAULT_MAX_BYTES), _env_cap(MAX_MEMBERS_ENV, DEFAULT_MAX_MEMBERS),
                   _env_cap(MAX_NAME_ENV, DEFAULT_MAX_NAME))


class _CappedReader:
    """Bytes read from `raw` in bounded chunks, refused once more than `cap` have come out."""

    def __init__(self, raw: Any, cap: int, what: str) -> None:
        self._raw, self.cap, self.what, self.count = raw, cap, what, 0

    def read(self, size: int | None = -1) -> bytes:
        size = _CHUNK if size is None or size < 0 or size > _CHUNK else size
        data = self._raw.read(size)
        self.count += len(data)
        if self.count > self.cap:
            raise UnsafeBundleError(
                f"{self.what} expands to more than {self.cap} bytes uncompressed ({self.count} read so far; the cap "
                f"is ${MAX_BYTES_ENV}={self.cap}); raise ${MAX_BYTES_ENV} to allow a bigger bundle")
        return data


class _BoundedTarInfo(tarfile.TarInfo):
    """A tar header whose extended headers (read whole by tarfile) are refused above 1 MiB."""

    def _proc_member(self, tarfile: Any) -> Any:
        if self.type in _EXTENDED_TYPES and self.size > _MAX_EXTENDED_HEADER:
            raise UnsafeBundleError(f"the bundle has an extended tar header of {self.size} bytes (more than "
                                    f"{_MAX_EXTENDED_HEADER}); refusing to extract")
        return super()._proc_member(tarfile)  # type: ignore[misc]


def _within(root: str, target: str) -> bool:
    return target == root or target.startswith(root + os.sep)


def _refuse(name: str, why: str) -> UnsafeBundleError:
    return UnsafeBundleError(f"bundle member {name!r} {why}; refusing to extract")


def _name_parts(m: tarfile.TarInfo, limits: BundleLimits) -> list[str]:
    """The member's path components under the destination (empty: the destination itself)."""
    name = m.name
    if len(name) > limits.max_name:
        raise UnsafeBundleError(
            f"bundle member {name[:100]!r}{'...' if len(name) > 100 else ''} has a name of {len(name)} characters, "
            f"more than the cap of "
            f"{limits.max_name}; raise ${MAX_NAME_ENV} to allow longer names")
    if not name or "\0" in name:
        raise _refuse(name, "has an empty name or one with a NUL byte")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise _refuse(name, "has an absolute path")
    if "\\" in name:
        raise _refuse(name, "has a backslash in its name")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(name, "contains '..' and would escape the destination")
    return parts


def _check_kind(m: tarfile.TarInfo) -> None:
    if m.issparse():
        raise _refuse(m.name, "is a sparse file (bundles hold plain files)")
    if m.isreg() or m.isdir() or m.issym():
        return
    if m.islnk():
        raise _refuse(m.name, f"is a hard link (to {m.linkname!r}); bundles never hold hard links")
    if m.ischr() or m.isblk() or m.isfifo():
        raise _refuse(m.name, "is a device or fifo")
    raise _refuse(m.name, f"has the unsupported tar type {m.type!r}")


def _real_parent(root: str, parts: list[str], name: str) -> str:
    """The real directory that will hold member `name`, whose parents are `parts` under `root`: each
    parent is looked up on disk (a link is resolved with realpath), made when missing, and must be a
    directory inside `root`."""
    current = root
    for i, part in enumerate(parts):
        path = os.path.join(current, part)
        where = "/".join(parts[: i + 1])
        if os.path.islink(path):
            real = os.path.realpath(path)
            if not _within(root, real):
                raise _refuse(name, f"is under the link {where!r}, which leads outside the destination")
            if not os.path.isdir(real):
                raise _refuse(name, f"is under the link {where!r}, which is not a directory")
            current = real
        elif os.path.isdir(path):
            current = path
        elif os.path.lexists(path):
            raise _refuse(name, f"is under {where!r}, which is not a directory")
        else:
            os.mkdir(path, 0o755)
            current = path
    real = os.path.realpath(current)
    if not _within(root, real):  # cannot happen after the checks above; never write if it does
        raise _refuse(name, "resolves outside the destination")
    return real


def _make_symlink(m: tarfile.TarInfo, root: str, parent: str, target: str, limits: BundleLimits) -> None:
    link = m.linkname
    if len(link) > limits.max_name:
        raise UnsafeBundleError(
            f"bundle member {m.name!r} links to a target of {len(link)} characters, more than the cap of "
            f"{limits.max_name}; raise ${MAX_NAME_ENV} to allow longer names")
    if not link or "\0" in link or "\\" in link:
        raise _refuse(m.name, f"links to {link!r}, which is empty or malformed")
    if os.path.isabs(link):
        raise _refuse(m.name, f"links to {link!r}, an absolute path outside the destination")
    path = os.path.join(parent, link)
    try:  # strict: a missing component is not taken lexically (`later/..` is not `.` until `later` exists)
        resolved = os.path.realpath(path, strict=True)
    except OSError:
        resolved = ""
    if resolved and not _within(root, resolved):
        raise _refuse(m.name, f"links to {link!r}, which resolves outside the destination")
    if not resolved or not os.path.exists(path):
        raise _refuse(m.name, f"links to {link!r}, which is not in the bundle (a link may only point to a "
                              "member extracted before it)")
    os.symlink(link, target)


def _write_file(tar: tarfile.TarFile, m: tarfile.TarInfo, target: str) -> None:
    """Stream the member to a new file: O_EXCL and O_NOFOLLOW, so never through a link or over a file."""
    src = tar.extractfile(m)
    mode = 0o755 if m.mode & 0o111 else 0o644
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as out:
        if src is None:
            return
        while chunk := src.read(_CHUNK):
            out.write(chunk)


def _extract_members(tar: tarfile.TarFile, root: str, limits: BundleLimits, reader: _CappedReader) -> None:
    """Extract every member under `root` (an empty directory of ours), checking each as it comes."""
    count = 0
    for m in tar:
        count += 1
        if count > limits.max_members:
            raise UnsafeBundleError(
                f"the bundle has more than {limits.max_members} members (member {count} is {m.name!r}; the cap is "
                f"${MAX_MEMBERS_ENV}={limits.max_members}); raise ${MAX_MEMBERS_ENV} to allow more")
        parts = _name_parts(m, limits)
        _check_kind(m)
        if m.isreg() and reader.count + m.size > limits.max_bytes:
            raise UnsafeBundleError(
                f"bundle member {m.name!r} ({m.size} bytes) takes the bundle to {reader.count + m.size} bytes "
                f"uncompressed, more than the cap of {limits.max_bytes} (${MAX_BYTES_ENV}); raise "
                f"${MAX_BYTES_ENV} to allow a bigger bundle")
        if not parts:
            if m.isdir():
                continue
            raise _refuse(m.name, "names the destination itself")
        parent = _real_parent(root, parts[:-1], m.name)
        target = os.path.join(parent, parts[-1])
        if os.path.lexists(target):
            if m.isdir() and os.path.isdir(target) and not os.path.islink(target):
                continue
            raise _refuse(m.name, "is already in the bundle (a later member may not replace a file, link or "
                                  "directory made by an earlier one)")
        if m.isdir():
            os.mkdir(target, 0o755)
        elif m.issym():
            _make_symlink(m, root, parent, target, limits)
        else:
            _write_file(tar, m, target)


def _check_links(root: str) -> None:
    """Every link made still resolves inside `root` (each was checked as it was made, and no entry is
    ever replaced, so this only guards the rules above)."""
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path) and not _within(root, os.path.realpath(path)):
                raise _refuse(os.path.relpath(path, root), "links outside the destination")


def _is_real_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path)


def _check_merge(src: str, dst: str, prefix: str = "") -> None:
    """Refuse, before anything moves, a staged file or link that would replace a directory in `dst`."""
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if not os.path.lexists(d):
            continue
        if _is_real_dir(s) and _is_real_dir(d):
            _check_merge(s, d, f"{prefix}{name}/")
        elif _is_real_dir(d):
            raise _refuse(f"{prefix}{name}", f"would replace the directory {d} already in the destination")


def _merge(src: str, dst: str) -> None:
    """Move the staged tree `src` into the existing directory `dst`: directories merge, anything else
    (a file or link already there) is replaced by rename, which never follows a link."""
    for name in sorted(os.listdir(src)):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if _is_real_dir(s) and _is_real_dir(d):
            _merge(s, d)
        elif _is_real_dir(s) and os.path.lexists(d):
            os.unlink(d)
            os.rename(s, d)
        else:
            os.replace(s, d)


def safe_extract(data: bytes, dest: str | os.PathLike[str], limits: BundleLimits | None = None) -> None:
    """Extract a tar.gz (or plain tar) into `dest`, refusing anything that would escape it or is too
    big (see the rules above; `limits` defaults to the caps' environment variables).

    Members go to a staging directory (beside `dest` when it does not exist yet, inside it when it
    does, as the action's working directory does) and are moved into place only after the whole
    bundle was accepted: a refused bundle leaves `dest` as it was."""
    limits = limits or BundleLimits.from_env()
    dest_real = os.path.realpath(dest)
    existed = os.path.isdir(dest_real)
    parent = dest_real if existed else os.path.dirname(dest_real)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".flyte-bundle-", dir=parent)
    try:
        raw: Any = gzip.GzipFile(fileobj=io.BytesIO(data)) if data[:2] == b"\x1f\x8b" else io.BytesIO(data)
        reader = _CappedReader(raw, limits.max_bytes, "the bundle")
        with tarfile.open(fileobj=reader, mode="r|", tarinfo=_BoundedTarInfo) as tar:  # type: ignore[call-overload]
            _extract_members(tar, staging, limits, reader)
        _check_links(staging)
        if not existed:
            os.chmod(staging, 0o755)
            try:
                os.rename(staging, dest_real)
                return
            except OSError:
                if not os.path.isdir(dest_real):  # made by someone else meanwhile: merge into it
                    raise
        _check_merge(staging, dest_real)
        _merge(staging, dest_real)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # what is left of it (nothing after a rename)


def fetch_and_extract(uri: str, dest: str) -> str:
    """Download the source bundle and extract it; returns the directory to import from.

    With `$FLYTE_JUPYTER_BUNDLE_CACHE` set (the local executor sets it) and `dest` ".", bundles are
    extracted once per digest into the cache and shared by every action of every run."""
    cache = os.environ.get("FLYTE_JUPYTER_BUNDLE_CACHE")
    name = _storage.basename(uri)
    if cache and dest in (".", "") and name.endswith(".tar.gz"):
        target = os.path.join(cache, name[: -len(".tar.gz")])
        if os.path.exists(os.path.join(target, ".complete")):
            return target
        tmp = f"{target}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)  # left by a killed process that had this pid
        try:
            safe_extract(_storage.get_bytes(uri), tmp)
            _precompile(tmp)
            open(os.path.join(tmp, ".complete"), "w").close()
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            os.rename(tmp, target)
        except OSError:  # another action got there first
            shutil.rmtree(tmp, ignore_errors=True)
        return target
    safe_extract(_storage.get_bytes(uri), dest)
    return os.path.realpath(dest)


def _precompile(root: str) -> None:
    """Write bytecode next to the extracted sources once (unchecked-hash pycs: a bundle's content
    never changes under its digest), so no action compiles the same source again."""
    import py_compile

    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                try:
                    py_compile.compile(path, cfile=importlib.util.cache_from_source(path), doraise=True,
                                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
                except (py_compile.PyCompileError, OSError):
                    pass  # the import compiles it then, as usual


def _gunzip_capped(data: bytes, what: str, limits: BundleLimits | None = None) -> bytearray:
    """Decompress a gzip stream in chunks, refused past `limits.max_bytes` ($FLYTE_JUPYTER_BUNDLE_MAX_BYTES).

    A pickle bundle is code by design (cloudpickle runs whatever it holds), so only its size is
    checked here: a small download may not expand into unbounded memory."""
    reader = _CappedReader(gzip.GzipFile(fileobj=io.BytesIO(data)), (limits or BundleLimits.from_env()).max_bytes,
                           what)
    out = bytearray()
    while chunk := reader.read(_CHUNK):
        out += chunk
    return out


_PICKLE_BUNDLES: dict[str, dict[str, Any]] = {}


def load_pickle_bundle(uri: str) -> dict[str, Any]:
    """The tasks of a pickle bundle, unpickled once per process: a bundle's URI names its content
    (sha256), so a warm worker or a fork-server template that loaded it serves every later action."""
    tasks = _PICKLE_BUNDLES.get(uri)
    if tasks is not None:
        return tasks
    import cloudpickle

    payload = cloudpickle.loads(_gunzip_capped(_storage.get_bytes(uri), f"the pickle bundle {uri}"))
    if not isinstance(payload, dict) or "tasks" not in payload:
        raise ValueError(f"{uri} is not a flyte-jupyter pickle bundle")
    _origins.register(payload.get(_origins.ORIGINS_KEY))
    _PICKLE_BUNDLES[uri] = payload["tasks"]
    return payload["tasks"]


class DefaultResolver:
    """Loads a task from an importable module: `--module-name M --task-name T` -> `M.T`."""

    @staticmethod
    def load_task(module_name: str, task_name: str) -> Any:
        module = importlib.import_module(module_name)
        obj: Any = module
        for part in task_name.split("."):
            obj = getattr(obj, part)
        return obj

    @staticmethod
    def loader_args(task: Any) -> list[str]:
        return ["--module-name", task.func.__module__, "--task-name", task.func.__name__]


def load_resolver(name: str) -> Any:
    """A resolver named "package.module.Name" or "package.module:Name"."""
    module_name, sep, attr = name.partition(":")
    if not sep:
        module_name, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)
