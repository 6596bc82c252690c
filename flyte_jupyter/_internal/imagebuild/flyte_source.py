"""Which flyte-jupyter an unpinned image installs, and a digest of it for the image cache key.

An image from `Image.from_debian_base()` without ``flyte_version=`` installs the flyte-jupyter
running here: from the index by version, or (an editable or local-folder install) a wheel built from
its source tree. The cache key must change when that changes, or an image built before an SDK
change keeps running the old SDK: `installed_flyte_digest` is the version for an index install, the
wheel's hash for a wheel file, and the version plus a hash of the package's sources for a tree.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Optional

PACKAGE = "flyte_jupyter"
# What a wheel is built from; the JupyterLab panel is left out of the image's wheel.
_SOURCE_SUFFIXES = (".py", ".pyi", ".proto", ".typed", ".json", ".yaml", ".txt")
_SKIP_PARTS = {"labextension", "__pycache__", "node_modules"}


def own_version() -> Optional[str]:
    try:
        from importlib.metadata import version

        return version("flyte-jupyter")
    except Exception:
        return None


def local_flyte_source() -> Optional[Path]:
    """Where the flyte-jupyter running here was installed from, when not from an index: its source
    tree (editable or local-folder install) or a local wheel file; None for an index install."""
    try:
        from importlib.metadata import distribution

        text = distribution("flyte-jupyter").read_text("direct_url.json")
    except Exception:
        return None
    if not text:
        return None
    try:
        info = json.loads(text)
    except ValueError:
        return None
    url = str(info.get("url", ""))
    if not url.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(url).path))
    if "dir_info" in info and (path / "pyproject.toml").is_file():
        return path
    if "archive_info" in info and path.is_file() and path.suffix == ".whl":
        return path
    return None


def source_tree_digest(root: Path) -> str:
    """sha256 over pyproject.toml and the package's source files (relative paths and contents)."""
    h = hashlib.sha256()
    files = [root / "pyproject.toml"]
    files += sorted(p for p in (root / PACKAGE).rglob("*")
                    if p.is_file() and p.suffix in _SOURCE_SUFFIXES
                    and not _SKIP_PARTS.intersection(p.relative_to(root).parts))
    for path in files:
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def installed_flyte_digest() -> str:
    """What an unpinned image would install, as a short stable string (computed once per process)."""
    source = local_flyte_source()
    version = own_version() or "unknown"
    if source is None:
        return f"version:{version}"
    if source.is_file():
        return f"wheel:{hashlib.sha256(source.read_bytes()).hexdigest()}"
    return f"tree:{version}:{source_tree_digest(source)}"
