"""Code bundles: how an action gets the code of its task.

Two kinds, as in Flyte 2:

- a source bundle: a deterministic ``tar.gz`` of the source files the run needs (members sorted,
  mtimes, owners and modes fixed, gzip header without a timestamp), named by its sha256 and
  uploaded once: unchanged code uploads nothing. The action extracts it and imports the task's
  module by name (``--tgz URI --module-name M --task-name T``).
- a pickle bundle: for tasks defined in ``__main__`` or a notebook, whose functions have no module to
  import: the tasks of the run's environments are cloudpickled by value, gzipped, and addressed by
  sha256 too (``--pkl URI --task-name T``).

`safe_extract` refuses members with absolute paths, ``..`` components, links that point out of the
destination, and device files.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib
import importlib.util
import io
import os
import sys
import tarfile
from pathlib import Path
from typing import Any

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


def _site_dirs() -> list[str]:
    import site
    import sysconfig

    dirs = set(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    dirs.add(site.getusersitepackages() if hasattr(site, "getusersitepackages") else "")
    for key in ("purelib", "platlib", "stdlib", "platstdlib"):
        dirs.add(sysconfig.get_paths().get(key, ""))
    return [os.path.realpath(d) for d in dirs if d]


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
    what the run needs, without site-packages or the SDK itself."""
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


def build_pickle_bundle(task: Any, storage_root: str, tasks: dict[str, Any] | None = None) -> Bundle:
    """Cloudpickle the tasks (by value for __main__ code), gzip, upload once."""
    import cloudpickle

    tasks = tasks if tasks is not None else environment_tasks(task)
    main = sys.modules.get("__main__")
    if main is not None:
        try:
            cloudpickle.register_pickle_by_value(main)
        except (ValueError, TypeError):
            pass
    payload = cloudpickle.dumps({"tasks": tasks, "root": task.name}, protocol=5)
    data = gzip.compress(payload, mtime=0)
    uri, digest = _upload_once(data, storage_root, ".pkl.gz")
    return Bundle("pkl", uri, digest, task_names=tuple(sorted(tasks)))


# -- in the action ---------------------------------------------------------------------------------


def _within(root: str, target: str) -> bool:
    return target == root or target.startswith(root + os.sep)


def safe_extract(data: bytes, dest: str | os.PathLike[str]) -> None:
    """Extract a tar.gz into `dest`, refusing anything that would escape it."""
    dest_real = os.path.realpath(dest)
    os.makedirs(dest_real, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        members = tar.getmembers()
        for m in members:
            name = m.name
            if name.startswith(("/", "\\")) or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
                raise UnsafeBundleError(f"bundle member {name!r} has an absolute path; refusing to extract")
            if ".." in Path(name.replace("\\", "/")).parts:
                raise UnsafeBundleError(f"bundle member {name!r} contains '..' and would escape {dest}; refusing to extract")
            target = os.path.realpath(os.path.join(dest_real, name))
            if not _within(dest_real, target):
                raise UnsafeBundleError(f"bundle member {name!r} resolves outside {dest}; refusing to extract")
            if m.issym() or m.islnk():
                link = m.linkname
                base = os.path.dirname(target) if m.issym() else dest_real
                resolved = os.path.realpath(os.path.join(base, link)) if not os.path.isabs(link) else os.path.realpath(link)
                if not _within(dest_real, resolved):
                    raise UnsafeBundleError(
                        f"bundle member {name!r} links to {link!r}, outside {dest}; refusing to extract")
            elif not (m.isfile() or m.isdir()):
                raise UnsafeBundleError(f"bundle member {name!r} is a device or fifo; refusing to extract")
        for m in members:
            if m.isdir():
                os.makedirs(os.path.join(dest_real, m.name), exist_ok=True)
                continue
            target = os.path.join(dest_real, m.name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if m.issym():
                if os.path.lexists(target):
                    os.unlink(target)
                os.symlink(m.linkname, target)
            elif m.islnk():
                if os.path.lexists(target):
                    os.unlink(target)
                os.link(os.path.join(dest_real, m.linkname), target)
            else:
                src = tar.extractfile(m)
                with open(target, "wb") as fh:
                    fh.write(src.read() if src is not None else b"")


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
        safe_extract(_storage.get_bytes(uri), tmp)
        _precompile(tmp)
        open(os.path.join(tmp, ".complete"), "w").close()
        try:
            os.rename(tmp, target)
        except OSError:  # another action got there first
            import shutil

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


_PICKLE_BUNDLES: dict[str, dict[str, Any]] = {}


def load_pickle_bundle(uri: str) -> dict[str, Any]:
    """The tasks of a pickle bundle, unpickled once per process: a bundle's URI names its content
    (sha256), so a warm worker or a fork-server template that loaded it serves every later action."""
    tasks = _PICKLE_BUNDLES.get(uri)
    if tasks is not None:
        return tasks
    import cloudpickle

    payload = cloudpickle.loads(gzip.decompress(_storage.get_bytes(uri)))
    if not isinstance(payload, dict) or "tasks" not in payload:
        raise ValueError(f"{uri} is not a flyte-jupyter pickle bundle")
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
