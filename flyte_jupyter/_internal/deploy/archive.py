"""The package archive: what `flyte-jupyter package` writes and `flyte-jupyter register` reads.

A deterministic tar.gz of two regular files: `package.pb` (a TaskPackage: the specs, their typed
interfaces, the image cache, the bundle's name and sha256) and the code bundle it names
(`bundle.tar.gz` or `bundle.pkl.gz`). Same code, same archive bytes.

`read_archive` treats an archive as hostile until the whole of it was checked, and checks it
before anything is uploaded or registered: it is extracted with the code bundles' safe extraction
(member by member against the real filesystem, into a scratch directory; no absolute or `..`
names, links, devices; caps on size, member count and name length), must hold exactly those two
files, `package.pb` must parse and be of this format, the bundle must have the sha256 the package
names, every spec must load its code from that bundle (by the placeholder) and have no project,
domain or version yet, and a source bundle is itself extracted safely the same way (what each
action would do) and must hold each task's module. A pickle bundle is code by design (cloudpickle
runs what it holds); only its decompressed size is capped.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from pathlib import Path

from flyte_jupyter._internal.deploy.package import BUNDLE_FILES, BUNDLE_PLACEHOLDER, FORMAT, Package
from flyte_jupyter._internal.wire.proto import task_service_pb2 as task_pb
from flyte_jupyter.errors import DeploymentError, UnsafeBundleError

MANIFEST = "package.pb"
MAX_MANIFEST = 64 * 1024 * 1024
_LOADER_FLAG = {"tgz": "--tgz", "pkl": "--pkl"}


def archive_bytes(package: Package) -> bytes:
    """The archive of a package, deterministic (sorted members, fixed times, owners and modes)."""
    members = {MANIFEST: package.message.SerializeToString(deterministic=True),
               package.message.bundle_file: package.bundle}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(members[name]))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def write_archive(package: Package, path: str | os.PathLike[str]) -> Path:
    """Write the archive atomically (a temp file beside it, then a rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(archive_bytes(package))
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def _refuse(path: str, why: str) -> DeploymentError:
    return DeploymentError(f"{path} is not a flyte-jupyter package: {why}; nothing was registered")


def _only_files(root: str, expected: set[str], path: str) -> None:
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full) or not os.path.isfile(full) or rel not in expected:
                raise _refuse(path, f"it holds {rel!r}, which a package never does (only {sorted(expected)})")
            found.add(rel)
    missing = expected - found
    if missing:
        raise _refuse(path, f"it lacks {sorted(missing)}")


def _check_specs(message: task_pb.TaskPackage, path: str) -> None:
    flag = _LOADER_FLAG[message.bundle_kind]
    names: set[str] = set()
    if not message.tasks:
        raise _refuse(path, "it has no tasks")
    for entry in message.tasks:
        spec = entry.spec
        name = spec.id.name
        if not name or name in names:
            raise _refuse(path, f"it has a task without a name or twice ({name!r})")
        names.add(name)
        if spec.id.project or spec.id.domain or spec.id.version:
            raise _refuse(path, f"task {name} already has a project, domain or version (a package gets them at "
                                "registration)")
        args = list(spec.args)
        at = [i for i, a in enumerate(args[:-1]) if a in ("--tgz", "--pkl")]
        if len(at) != 1 or args[at[0]] != flag or args[at[0] + 1] != BUNDLE_PLACEHOLDER:
            raise _refuse(path, f"task {name} does not load its code from the package's bundle")
        if BUNDLE_PLACEHOLDER in "".join(a for i, a in enumerate(args) if i != at[0] + 1):
            raise _refuse(path, f"task {name} names the bundle placeholder more than once")


def _module_file(module: str) -> list[str]:
    base = module.replace(".", "/")
    return [f"{base}.py", f"{base}/__init__.py"]


def _check_source_bundle(data: bytes, message: task_pb.TaskPackage, scratch: str, path: str) -> None:
    from flyte_jupyter._internal.runtime.bundle import safe_extract

    dest = os.path.join(scratch, "bundle")
    try:
        safe_extract(data, dest)
    except UnsafeBundleError as exc:
        raise UnsafeBundleError(f"{path}: its code bundle is refused: {exc}; nothing was registered") from None
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as exc:
        raise _refuse(path, f"its code bundle is not a readable tar.gz ({type(exc).__name__}: {exc})") from None
    for entry in message.tasks:
        args = list(entry.spec.args)
        module = args[args.index("--module-name") + 1] if "--module-name" in args[:-1] else ""
        if not module or not any(os.path.isfile(os.path.join(dest, f)) for f in _module_file(module)):
            raise _refuse(path, f"its code bundle does not hold module {module!r} of task {entry.spec.id.name}")


def read_archive(path: str | os.PathLike[str]) -> Package:
    """The package in an archive, checked whole (see the module docstring); raises
    UnsafeBundleError for a hostile archive, DeploymentError for anything else wrong."""
    from flyte_jupyter._internal.runtime.bundle import BundleLimits, _gunzip_capped, safe_extract

    shown = str(path)
    limits = BundleLimits.from_env()
    try:
        size = os.path.getsize(path)
        if size > limits.max_bytes:
            raise _refuse(shown, f"it is {size} bytes, more than the cap of {limits.max_bytes}")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DeploymentError(f"cannot read {shown}: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="flyte-register-") as scratch:
        root = os.path.join(scratch, "archive")
        try:
            safe_extract(data, root, limits)
        except UnsafeBundleError as exc:
            raise UnsafeBundleError(f"{shown} is refused: {exc}; nothing was registered") from None
        except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as exc:
            raise _refuse(shown, f"it is not a readable tar.gz ({type(exc).__name__}: {exc})") from None
        manifest_path = os.path.join(root, MANIFEST)
        if not os.path.isfile(manifest_path) or os.path.islink(manifest_path):
            raise _refuse(shown, f"it has no {MANIFEST}")
        if os.path.getsize(manifest_path) > MAX_MANIFEST:
            raise _refuse(shown, f"its {MANIFEST} is larger than {MAX_MANIFEST} bytes")
        message = task_pb.TaskPackage()
        try:
            message.ParseFromString(Path(manifest_path).read_bytes())
        except Exception:  # noqa: BLE001 - DecodeError, RecursionError
            raise _refuse(shown, f"its {MANIFEST} does not parse") from None
        if message.format != FORMAT:
            raise _refuse(shown, f"its format is {message.format!r}, not {FORMAT!r}")
        if BUNDLE_FILES.get(message.bundle_kind) != message.bundle_file:
            raise _refuse(shown, f"its bundle {message.bundle_file!r} of kind {message.bundle_kind!r} is not one "
                                 f"of {sorted(BUNDLE_FILES.values())}")
        _only_files(root, {MANIFEST, message.bundle_file}, shown)
        bundle = Path(root, message.bundle_file).read_bytes()
        if hashlib.sha256(bundle).hexdigest() != message.bundle_digest:
            raise _refuse(shown, "its code bundle does not have the sha256 its package.pb names")
        _check_specs(message, shown)
        if message.bundle_kind == "tgz":
            _check_source_bundle(bundle, message, scratch, shown)
        else:
            try:
                _gunzip_capped(bundle, f"the pickle bundle of {shown}", limits)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise _refuse(shown, f"its pickle bundle is not gzip ({exc})") from None
    return Package(message, bundle)


__all__ = ["MANIFEST", "archive_bytes", "read_archive", "write_archive"]
