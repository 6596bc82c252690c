"""What the deploy tests share: a task module written to a folder, the CLI against a test backend,
and what the backend has registered and stored."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from flyte_jupyter._internal.deploy.package import load_path

MODULE = '''
import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="{env}", resources=flyte.Resources(cpu=1, memory="{memory}"))


@env.task
async def child(x: int) -> str:
    return "{tag}-" + str(x * {factor})


@env.task
async def main(x: int = 2, label: str = "n") -> str:
    """Doubles x in a child, {tag}."""
    return label + ":" + await child(x=x)
{extra}
'''


def _write(folder: Path, module: str, *, env: str, tag: str, factor: int = 2, memory: str = "100Mi",
           extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}.py"
    path.write_text(MODULE.format(env=env, tag=tag, factor=factor, memory=memory, extra=extra))
    return path


def _env_of(path: Path):  # type: ignore[no-untyped-def]
    return load_path(path)[0].env


def _cli(backend, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    env = {**os.environ, "FLYTE_JUPYTER_CONFIG": str(backend.client_yaml),
           "FLYTE_JUPYTER_DATA_DIR": str(backend.data_dir / "cli-data")}
    return subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", *args], capture_output=True, text=True,
                          env=env, timeout=180, cwd=cwd)


def _listed(backend, project: str, domain: str = "staging") -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = asyncio.run(backend.client().list_tasks(project=project, domain=domain))
    return sorted((t.id.name, t.id.version) for t in found)


def _bundles(backend) -> set[str]:  # type: ignore[no-untyped-def]
    folder = backend.data_dir / "data" / "bundles"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


