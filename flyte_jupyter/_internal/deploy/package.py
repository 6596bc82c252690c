"""What a deployment registers, built from environments: one code bundle, the images, every task.

`build_package(envs)` takes the environments given and those they depend on, and makes a
`Package`: the code bundle's bytes (a deterministic source tar.gz when every task lives in a module
under one source root, else one cloudpickle of every task, as runs do for notebooks) and, per task,
a `TaskEntry`: its TaskSpec (interface, resources, retries, timeouts, cache policy, plugin config,
image reference and the `--image-cache` of every environment) and its typed interface. Nothing is
uploaded or registered here: a spec names its bundle with `BUNDLE_PLACEHOLDER` and has no project,
domain or version until `register.py` fills them in, so the same package serves `deploy` (one step)
and `package` then `register` (two steps, through an archive).

Every task of a deployment shares one bundle and one image cache: a deployed parent's action builds
its children's specs from the bundle it runs, and those must be, byte for byte, the specs deployed
for them (else the catalog would refuse them as another spec under the same version).

`load_path(path)` imports a file or a package directory as the modules it is (so that its tasks
bundle as source, importable by module name in the action) and returns them;
`environments_in(modules)` finds their TaskEnvironments.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib
import inspect
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any, Iterable

from flyte_jupyter._internal.deploy.typeexpr import describe
from flyte_jupyter._internal.wire.proto import task_service_pb2 as task_pb
from flyte_jupyter.errors import DeploymentError

FORMAT = "flyte-jupyter-package/1"
BUNDLE_PLACEHOLDER = "{{.registeredCodeBundle}}"
BUNDLE_FILES = {"tgz": "bundle.tar.gz", "pkl": "bundle.pkl.gz"}
_MAX_DOCS = 64 * 1024


@dataclasses.dataclass
class Package:
    """A deployment before it is registered: the TaskPackage message and the bundle's bytes."""

    message: task_pb.TaskPackage
    bundle: bytes

    @property
    def task_names(self) -> list[str]:
        return [e.spec.id.name for e in self.message.tasks]


# -- environments and their tasks ------------------------------------------------------------------


def environments(envs: Iterable[Any]) -> list[Any]:
    """The environments given and, transitively, those they depend on (each once, in order)."""
    from flyte_jupyter._environment import TaskEnvironment

    seen: dict[int, Any] = {}
    pending = list(envs)
    while pending:
        env = pending.pop(0)
        if not isinstance(env, TaskEnvironment):
            raise TypeError(f"deploy takes TaskEnvironment objects, got {type(env).__name__}")
        if id(env) in seen:
            continue
        seen[id(env)] = env
        pending.extend(env.depends_on)
    return list(seen.values())


def tasks_of(envs: list[Any]) -> dict[str, Any]:
    """Every task of the environments, by name; two different tasks of one name are refused."""
    out: dict[str, Any] = {}
    for env in envs:
        for name, task in env.tasks.items():
            if name in out and out[name] is not task:
                raise DeploymentError(f"two environments define a task named {name!r}; task names must be unique "
                                      "within a deployment")
            out[name] = task
    return out


# -- the code bundle -------------------------------------------------------------------------------


def bundle_bytes(tasks: list[Any]) -> tuple[str, bytes]:
    """(kind, bytes) of the one bundle every task of the deployment loads."""
    from flyte_jupyter._internal.runtime.bundle import (
        is_interactive,
        make_tgz,
        pickle_tasks,
        source_files,
        source_root,
    )

    if any(is_interactive(t) for t in tasks):
        payload = pickle_tasks({t.name: t for t in tasks}, tasks[0].name)
        return "pkl", gzip.compress(payload, mtime=0)
    modules = sorted({t.func.__module__ for t in tasks})
    roots = {m: source_root(m) for m in modules}
    if len(set(roots.values())) > 1:
        listing = ", ".join(f"{m} (under {r})" for m, r in sorted(roots.items()))
        raise DeploymentError(f"the tasks to deploy come from modules under different source roots: {listing}; "
                              "deploy the environments of one source tree at a time")
    root, files = source_files(modules[0])
    have = {str(f) for f in files}
    for m in modules:
        file = os.path.realpath(sys.modules[m].__file__ or "")
        if file not in have:
            raise DeploymentError(f"module {m} ({file}) is not in the code bundle built from {root}")
    return "tgz", make_tgz(root, files)


# -- the typed interface ---------------------------------------------------------------------------


def _normalized_source(text: str) -> str:
    return "\n".join(line.rstrip() for line in textwrap.dedent(text).strip().splitlines())


def source_digest(func: Any) -> str:
    """sha256 of a function's source, decorators included ("" when there is none to read)."""
    try:
        text = inspect.getsource(func)
    except (OSError, TypeError):
        return ""
    return hashlib.sha256(_normalized_source(text).encode()).hexdigest()


def source_digest_in_file(path: str, qualname: str) -> str:
    """The same digest, read from a file without running it ("" when it has no such function)."""
    import ast

    try:
        text = Path(path).read_text()
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return ""
    body: list[ast.stmt] = tree.body
    node: Any = None
    for part in qualname.split("."):
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return ""
        body = node.body
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.end_lineno is None:
        return ""
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    lines = text.splitlines()[start - 1: node.end_lineno]
    return hashlib.sha256(_normalized_source("\n".join(lines)).encode()).hexdigest()


def _input_entry(name: str, tp: Any, default: Any) -> task_pb.TaskInput:
    item = task_pb.TaskInput(name=name, type=describe(tp), has_default=default is not inspect.Parameter.empty)
    if item.has_default:
        try:
            from flyte_jupyter._internal.types import to_literal

            item.default = to_literal(default, tp, name=name).SerializeToString(deterministic=True)
        except Exception:  # noqa: BLE001 - a default no literal holds without storage: the action's own
            pass
        try:
            item.default_json = json.dumps(default)
        except (TypeError, ValueError):
            pass
    return item


def task_entry(task: Any, code: Any, image: str) -> task_pb.TaskEntry:
    """The TaskEntry of one task under the deployment's code reference and its image."""
    from flyte_jupyter._internal.runtime.spec import task_spec

    entry = task_pb.TaskEntry(spec=task_spec(task, code, "", "", image))
    for name, (tp, default) in task.interface.inputs.items():
        entry.inputs.append(_input_entry(name, tp, default))
    if task.interface.has_output:
        entry.output_type = describe(task.interface.output)
    entry.docs = (getattr(task, "docs", None) or "")[:_MAX_DOCS]
    try:
        entry.source_file = inspect.getsourcefile(task.func) or ""
    except TypeError:
        pass
    entry.source_digest = source_digest(task.func)
    from flyte_jupyter._internal.deploy.triggers import trigger_specs

    entry.triggers.extend(trigger_specs(task))
    return entry


# -- the package -----------------------------------------------------------------------------------


def _images(envs: list[Any]) -> tuple[Any, str]:
    try:
        from flyte_jupyter._internal.imagebuild.for_run import resolve_run_images
    except ImportError:
        return None, ""
    images = resolve_run_images(envs[0], extra_environments=envs[1:])
    return images, images.encoded


def build_package(envs: Iterable[Any]) -> Package:
    """Everything a deployment of these environments registers (see the module docstring); builds
    the images that are missing, uploads and registers nothing."""
    from flyte_jupyter._internal.runtime.spec import CodeRef, version_for

    all_envs = environments(envs)
    if not all_envs:
        raise DeploymentError("nothing to deploy: give at least one TaskEnvironment")
    tasks = tasks_of(all_envs)
    if not tasks:
        raise DeploymentError(f"the environments {[e.name for e in all_envs]} have no tasks to deploy")
    images, image_cache = _images(all_envs)
    kind, data = bundle_bytes(list(tasks.values()))
    digest = hashlib.sha256(data).hexdigest()
    code = CodeRef(kind, BUNDLE_PLACEHOLDER, "", image_cache,
                   task_names=tuple(sorted(tasks)) if kind == "pkl" else ())
    message = task_pb.TaskPackage(format=FORMAT, bundle_kind=kind, bundle_file=BUNDLE_FILES[kind],
                                  bundle_digest=digest, image_cache=image_cache,
                                  default_version=version_for(digest, image_cache))
    if kind == "pkl":
        from flyte_jupyter._internal.deploy.fingerprint import code_fingerprint

        message.code_digest = code_fingerprint(list(tasks.values()))
    for task in tasks.values():
        entry = task_entry(task, code, images.reference_for(task) if images is not None else "")
        entry.code_digest = message.code_digest
        message.tasks.append(entry)
    return Package(message, data)


# -- files and packages as modules -----------------------------------------------------------------


def _module_name(path: Path) -> tuple[Path, str]:
    """(the sys.path root, the dotted module name) of a .py file or a package directory."""
    path = path.resolve()
    parts = [path.stem if path.is_file() else path.name]
    if path.is_file() and path.name == "__init__.py":
        parts = []
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts:  # FILE was a package's __init__.py: the package itself
        return _module_name(path.parent)
    return folder, ".".join(parts)


def load_path(path: str | os.PathLike[str]) -> list[Any]:
    """Import a Python file, or every module of a package directory, as the modules they are."""
    target = Path(path)
    if not target.exists():
        raise DeploymentError(f"{path} does not exist")
    if target.is_dir() and not (target / "__init__.py").exists():
        raise DeploymentError(f"{path} is a directory but not a Python package (no __init__.py)")
    if target.is_file() and target.suffix != ".py":
        raise DeploymentError(f"{path} is not a Python file")
    root, name = _module_name(target)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    names = [name]
    if target.is_dir():
        from flyte_jupyter._internal.runtime.bundle import _EXCLUDE_DIRS

        top = target.resolve()
        for file in sorted(top.rglob("*.py")):
            rel = file.relative_to(top)
            if _EXCLUDE_DIRS.intersection(rel.parts) or file.name == "__init__.py":
                continue
            folders = [top.joinpath(*rel.parts[:i]) for i in range(1, len(rel.parts))]
            if all((folder / "__init__.py").exists() for folder in folders):  # a module of the package
                names.append(_module_name(file)[1])
    modules = []
    for module_name in names:
        try:
            modules.append(importlib.import_module(module_name))
        except Exception as exc:
            raise DeploymentError(f"could not import {module_name} from {root}: {type(exc).__name__}: {exc}") from exc
    return modules


def environments_in(modules: list[Any], names: Iterable[str] = ()) -> list[Any]:
    """The TaskEnvironments the modules define (only those named, when names are given)."""
    from flyte_jupyter._environment import TaskEnvironment

    found: dict[int, Any] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, TaskEnvironment):
                found.setdefault(id(value), value)
    envs = list(found.values())
    wanted = list(names)
    if wanted:
        by_name = {e.name: e for e in envs}
        missing = [n for n in wanted if n not in by_name]
        if missing:
            raise DeploymentError(f"no environment named {missing} here; environments found: {sorted(by_name) or 'none'}")
        envs = [by_name[n] for n in wanted]
    if not envs:
        raise DeploymentError("no TaskEnvironment found to deploy")
    return envs


__all__ = ["BUNDLE_FILES", "BUNDLE_PLACEHOLDER", "FORMAT", "Package", "build_package", "environments",
           "environments_in", "load_path", "source_digest", "source_digest_in_file", "task_entry", "tasks_of"]
