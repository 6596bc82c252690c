"""`pip install` of the wheel alone turns everything on: the prebuilt labextension and the server
extension are listed as enabled and OK in a fresh virtual environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "flyte_jupyter" / "labextension" / "static" / "style.js"


def _sections(listing: str) -> dict[str, str]:
    """`jupyter ... extension list` output split by the directory each block is about."""
    out: dict[str, str] = {}
    current = ""
    for line in listing.splitlines():
        m = re.match(r"^\s*(?:config dir:\s*)?(/\S+)\s*$", line, re.IGNORECASE)
        if m:
            current = m.group(1)
            out.setdefault(current, "")
        elif current:
            out[current] += line + "\n"
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BUILT.exists():
        pytest.fail("the labextension is not built: run .ci/setup-lab.sh (jlpm build:prod) first")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, timeout=600)
    (whl,) = out.glob("flyte_jupyter-*.whl")
    return whl


def test_wheel_ships_the_labextension_and_the_server_config(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = "flyte_jupyter-0.1.0.data/data/"
    ext = data + "share/jupyter/labextensions/@flyte-jupyter/labextension/"
    assert ext + "package.json" in names
    assert ext + "install.json" in names
    assert ext + "schemas/@flyte-jupyter/labextension/plugin.json" in names
    assert any(n.startswith(ext + "static/remoteEntry.") for n in names)
    assert data + "etc/jupyter/jupyter_server_config.d/flyte_jupyter.json" in names


def test_fresh_venv_lists_both_extensions_enabled_and_ok(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)

    # the apps behind `jupyter labextension` and `jupyter server extension`, run by the venv's python
    # (a --system-site-packages venv has no jupyter-* scripts of its own, and `jupyter` would find
    # the system's on PATH)
    env = dict(os.environ, VIRTUAL_ENV=str(venv))
    lab = subprocess.run([str(py), "-m", "jupyterlab.labextensions", "list"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env=env)
    labs = _sections(lab.stdout + lab.stderr)
    mine = labs.get(str(venv / "share" / "jupyter" / "labextensions"), "")
    assert re.search(r"@flyte-jupyter/labextension v0\.1\.0 .*enabled.*OK", re.sub(r"\x1b\[[0-9;]*m", "", mine)), \
        lab.stdout + lab.stderr

    server = subprocess.run([str(py), "-m", "jupyter_server.extension.serverextension", "list"], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path, env=env)
    text = re.sub(r"\x1b\[[0-9;]*m", "", server.stdout + server.stderr)
    block = _sections(text).get(str(venv / "etc" / "jupyter"), "")
    assert re.search(r"flyte_jupyter\.server_ext\s+enabled", block), text
    assert re.search(r"flyte_jupyter\.server_ext\s+OK", block), text
