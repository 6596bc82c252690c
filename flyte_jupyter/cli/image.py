"""`flyte-jupyter image build|list|prune`: build images ahead of a run, see and clean the image cache.

`add_commands(subparsers)` plugs these into the main argparse CLI; each sub-command sets
`handler`, which takes the parsed namespace and returns an exit code.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple


def add_commands(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add `image` with its `build`, `list` and `prune` sub-commands to an argparse CLI."""
    image = subparsers.add_parser("image", help="build images and manage the image cache")
    image.set_defaults(handler=lambda ns: (image.print_help(), 2)[1])
    sub = image.add_subparsers(dest="image_command", metavar="{build,list,prune}")

    build = sub.add_parser(
        "build",
        help="build the images of the environments declared in a Python file",
        description="Import FILE, find every TaskEnvironment it defines (or, if none, every Image), and build the images "
        "not yet in the image cache.",
    )
    build.add_argument("file", help="a Python file that declares TaskEnvironments or Images")
    build.add_argument("--builder", choices=["local", "docker"], default=None,
                       help="local virtualenvs (default) or Docker images (buildx when the client has it, else docker build)")
    build.add_argument("--env", action="append", default=None, metavar="NAME",
                       help="only the environment NAME (repeatable)")
    build.set_defaults(handler=_cmd_build)

    lst = sub.add_parser("list", help="list the images in the image cache")
    lst.add_argument("--builder", choices=["local", "docker"], default=None)
    lst.set_defaults(handler=_cmd_list)

    prune = sub.add_parser(
        "prune",
        help="delete cached images",
        description="Without options, forget entries whose venv is gone and delete leftovers of crashed "
        "builds. Docker images are only forgotten, never deleted from a registry.",
    )
    prune.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                       help="also delete images not used for DAYS days")
    prune.add_argument("--all", action="store_true", help="delete every cached image")
    prune.add_argument("--builder", choices=["local", "docker"], default=None)
    prune.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    prune.set_defaults(handler=_cmd_prune)
    return image


# ------------------------------------------------------------------------------------------ build


def collect_images(path: str, only: List[str] | None = None) -> List[Tuple[str, Any]]:
    """(label, image) for every TaskEnvironment defined at the top of a Python file, or, when it
    defines none, for every Image (so shared bases that no environment uses are not built)."""
    import runpy

    from flyte_jupyter._image import Image

    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"error: {path} is not a file")
    if file.suffix != ".py":
        raise SystemExit(f"error: {path}: give a Python file (.py) that declares the environments")
    sys.path.insert(0, str(file.resolve().parent))
    try:
        namespace = runpy.run_path(str(file), run_name="__flyte_image_build__")
    finally:
        sys.path.pop(0)
    found: List[Tuple[str, Any]] = []
    seen_envs = set()
    for value in namespace.values():
        if _is_environment(value) and id(value) not in seen_envs:
            seen_envs.add(id(value))
            if not only or value.name in only:
                found.append((f"env {value.name}", value.image))
    if not seen_envs:  # no environments: the file is a list of images (bases are built too)
        found = [(f"image {var}", v) for var, v in namespace.items() if isinstance(v, Image)]
    if only:
        missing = set(only) - {label[4:] for label, _ in found}
        if missing:
            raise SystemExit(f"error: {path} declares no environment named {', '.join(sorted(missing))}")
    return found


def _is_environment(value: Any) -> bool:
    return type(value).__name__ == "TaskEnvironment" and hasattr(value, "image") and hasattr(value, "name")


def _cmd_build(ns: argparse.Namespace) -> int:
    from flyte_jupyter._image import AUTO, as_image
    from flyte_jupyter._internal.imagebuild import get_builder, resolve_image
    from flyte_jupyter.errors import ImageBuildError

    found = collect_images(ns.file, ns.env)
    if not found:
        print(f"{ns.file} declares no TaskEnvironment or Image: nothing to build")
        return 0
    builder = get_builder(ns.builder)
    try:
        for _, value in found:  # refuse unsupported specs before building anything
            img = as_image(value)
            if img is not None:
                builder.check(img)
        rows = []
        for label, value in found:
            if as_image(value) is None:
                rows.append((label, AUTO, "-", "current interpreter, nothing to build"))
                continue
            started = time.perf_counter()
            res = resolve_image(value, builder=builder)
            assert res is not None
            state = f"built in {time.perf_counter() - started:.1f}s" if res.built else "cached"
            rows.append((label, res.key[:12], state, res.reference))
    except ImageBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _table(("what", "key", "state", "reference"), rows)
    return 0


# ------------------------------------------------------------------------------------ list, prune


def _cmd_list(ns: argparse.Namespace) -> int:
    from flyte_jupyter._internal.imagebuild.cache import ImageCache

    cache = ImageCache()
    entries = cache.entries(ns.builder)
    if not entries:
        print(f"the image cache ({cache.path}) is empty")
        return 0
    rows = [
        (e.builder, e.key[:12], _summary(e.spec), _ago(e.last_used), e.reference)
        for e in entries
    ]
    _table(("builder", "key", "layers", "last used", "reference"), rows)
    return 0


def _cmd_prune(ns: argparse.Namespace) -> int:
    from flyte_jupyter._internal.imagebuild.cache import ImageCache
    from flyte_jupyter._internal.imagebuild.local_venv import LocalVenvBuilder

    cache = ImageCache()
    local = LocalVenvBuilder()
    cutoff = time.time() - ns.older_than * 86400 if ns.older_than is not None else None
    removed = 0
    for e in cache.entries(ns.builder):
        stale = e.builder == "local" and not local.exists(e.reference)
        old = cutoff is not None and e.last_used < cutoff
        if not (ns.all or stale or old):
            continue
        why = "missing" if stale else ("all" if ns.all else f"unused since {_ago(e.last_used)}")
        print(f"{'would remove' if ns.dry_run else 'removing'} {e.builder} {e.key[:12]} ({why}) {e.reference}")
        removed += 1
        if ns.dry_run:
            continue
        if e.builder == "local":
            local.remove(e.reference)
        cache.remove(e.key, e.builder)
    if ns.builder in (None, "local"):
        known = {e.reference for e in cache.entries("local")}
        for leftover in local.leftovers():
            if str(leftover) in known:
                continue
            print(f"{'would remove' if ns.dry_run else 'removing'} leftover {leftover}")
            removed += 1
            if not ns.dry_run:
                import shutil

                shutil.rmtree(leftover, ignore_errors=True)
    print(f"{removed} item(s) {'would be ' if ns.dry_run else ''}removed")
    return 0


# ------------------------------------------------------------------------------------------ output


def _summary(spec: Dict[str, Any]) -> str:
    """A one-line digest of a recorded spec's layers: packages, requirements, env vars, sources."""
    parts: List[str] = []
    for layer in spec.get("layers", []):
        kind = layer.get("kind")
        if kind in ("pip", "apt"):
            parts += [("apt:" if kind == "apt" else "") + p for p in layer.get("packages", [])]
        elif kind == "requirements":
            parts.append("-r " + str(layer.get("file")))
        elif kind == "env":
            parts.append("env:" + ",".join(k for k, _ in layer.get("items", [])))
        elif kind in ("source_folder", "source_file"):
            parts.append("src:" + str(layer.get("src")))
        elif kind:
            parts.append(str(kind))
    text = " ".join(parts) or "-"
    return text if len(text) <= 40 else text[:37] + "..."


def _ago(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _table(header: Tuple[str, ...], rows: Sequence[Tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())

