"""`flyte-jupyter image build|list|prune`, run as a user would (a subprocess of the real CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from flyte_jupyter._internal.imagebuild.cache import ImageCache

from .conftest import PKG_A


def cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, FLYTE_JUPYTER_IMAGE_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "flyte_jupyter.cli", "image", *args],
        env=env, capture_output=True, text=True, timeout=300,
    )


def write_envs(path: Path, extra: str = "") -> Path:
    path.write_text(textwrap.dedent(
        f"""
        import flyte_jupyter as flyte

        base = flyte.Image.from_debian_base()
        env_a = flyte.TaskEnvironment(name="env_a", image=base.with_pip_packages({PKG_A[1]!r}).with_env_vars({{"IMAGE_NAME": "a"}}))
        env_auto = flyte.TaskEnvironment(name="env_auto")
        {extra}

        if __name__ == "__main__":
            raise SystemExit("the CLI must not run the main block")
        """
    ))
    return path


def test_build_list_and_prune(tmp_path: Path) -> None:
    home = tmp_path / "home"
    envs = write_envs(tmp_path / "envs.py")

    first = cli("build", str(envs), home=home)
    assert first.returncode == 0, first.stderr
    assert "env env_a" in first.stdout and "built in" in first.stdout
    assert "env env_auto" in first.stdout and "nothing to build" in first.stdout

    second = cli("build", str(envs), "--env", "env_a", home=home)
    assert second.returncode == 0, second.stderr
    assert "cached" in second.stdout and "built in" not in second.stdout
    assert ImageCache(home / "cache.sqlite").build_count() == 1

    listed = cli("list", home=home)
    assert listed.returncode == 0, listed.stderr
    assert PKG_A[1] in listed.stdout and "local" in listed.stdout

    (home / "venvs" / ".tmp-crashed-build").mkdir()
    dry = cli("prune", "--all", "--dry-run", home=home)
    assert "would remove" in dry.stdout and ".tmp-crashed-build" in dry.stdout
    assert len(ImageCache(home / "cache.sqlite").entries()) == 1

    pruned = cli("prune", "--all", home=home)
    assert pruned.returncode == 0, pruned.stderr
    assert ImageCache(home / "cache.sqlite").entries() == []
    assert list((home / "venvs").iterdir()) == []
    assert "is empty" in cli("list", home=home).stdout


def test_unsupported_spec_fails_before_building(tmp_path: Path) -> None:
    home = tmp_path / "home"
    envs = write_envs(
        tmp_path / "envs.py",
        extra='env_sys = flyte.TaskEnvironment(name="env_sys", image=base.with_apt_packages("curl"))',
    )
    proc = cli("build", str(envs), home=home)
    assert proc.returncode == 1
    assert "with_apt_packages('curl')" in proc.stderr and "--builder docker" in proc.stderr
    assert ImageCache(home / "cache.sqlite").entries() == []


def test_docker_builder_without_engine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    envs = write_envs(tmp_path / "envs.py")
    env = dict(os.environ, FLYTE_JUPYTER_IMAGE_HOME=str(home), DOCKER_HOST=f"unix://{tmp_path}/none.sock")
    proc = subprocess.run(
        [sys.executable, "-m", "flyte_jupyter.cli", "image", "build", str(envs), "--builder", "docker"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert "Docker" in proc.stderr and "--builder local" in proc.stderr
