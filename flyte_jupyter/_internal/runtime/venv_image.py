"""The run-time side of a local venv image: how an action runs in a venv the local builder made.

The builder (`imagebuild/local_venv.py`) writes `MARKER` into a finished venv; the local executor
plugin reads it here to find the interpreter and the image's env vars, without importing the builder.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Dict, Mapping, Optional

from flyte_jupyter.errors import ImageBuildError

MARKER = "flyte-image.json"


@dataclasses.dataclass(frozen=True)
class VenvRuntime:
    """How to run an action in a built venv: its interpreter and the image's env vars."""

    path: str
    python: str
    env_vars: Dict[str, str]

    def environ(self, base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """`base` (default: os.environ) with the venv activated and the image's env vars applied."""
        env = dict(os.environ if base is None else base)
        env["VIRTUAL_ENV"] = self.path
        env["PATH"] = os.pathsep.join([str(Path(self.path) / bin_dir()), env.get("PATH", "")]).rstrip(os.pathsep)
        env.pop("PYTHONHOME", None)
        env.update(self.env_vars)
        return env


def runtime_for_reference(reference: str) -> Optional[VenvRuntime]:
    """The venv behind an image reference, or None when the reference is not a local venv
    (empty for "auto", or a container image URI meant for another executor)."""
    if not reference or not os.path.isabs(reference):
        return None
    marker = Path(reference) / MARKER
    try:
        meta = json.loads(marker.read_text())
    except FileNotFoundError:
        raise ImageBuildError(
            f"the image venv {reference} is missing or incomplete (no {MARKER}); it was pruned or "
            "its build crashed: run again so the client rebuilds it"
        ) from None
    return VenvRuntime(path=reference, python=str(python_of(Path(reference))), env_vars=dict(meta.get("env_vars", {})))


def bin_dir() -> str:
    return "Scripts" if os.name == "nt" else "bin"


def python_of(venv: Path) -> Path:
    return venv / bin_dir() / ("python.exe" if os.name == "nt" else "python")


