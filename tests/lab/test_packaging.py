"""Packaging: `pip install` alone turns everything on.

- The wheel carries the prebuilt labextension and the server config, and in a fresh virtual environment
  both extensions are listed as enabled and OK; the package's Jupyter hooks point at what it ships.
- `pip install -e .` of a clean copy of the working tree, in a fresh venv with build isolation (so
  `jupyterlab` from `build-system.requires` brings `jlpm`), builds the side panel and lists both
  extensions as enabled and OK (skipped only where there is no Node.js).
- Without Node.js a wheel still builds, Python side only, and says so in one line; an sdist refuses.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "flyte_jupyter" / "labextension" / "static" / "style.js"
NPM_NAME = json.loads((ROOT / "labextension" / "package.json").read_text())["name"]
LABEXTENSION_PATHS = [{"src": "labextension", "dest": "@flyte-jupyter/labextension"}]
SERVER_EXTENSION_POINTS = [{"module": "flyte_jupyter.server_ext"}]
# build output and node's install: never part of a "clean clone"
NOT_COPIED = ("labextension/node_modules/", "labextension/lib/", "flyte_jupyter/labextension/")
NO_NODE_LINE = "flyte-jupyter: Node.js not found, so the JupyterLab side panel was NOT built"

# the hooks, as JupyterLab and jupyter_server call them, and where `src` lands in the installed package
HOOKS = """
import json, pathlib, flyte_jupyter as m
labs, servers = m._jupyter_labextension_paths(), m._jupyter_server_extension_points()
pkg = pathlib.Path(m.__file__).parent
print(json.dumps({"lab": labs, "server": servers, "package": str(pkg),
                  "src_package_json": [(pkg / p["src"] / "package.json").is_file() for p in labs]}))
"""


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _sections(listing: str) -> dict[str, str]:
    """`jupyter ... extension list` output split by the directory each block is about."""
    out: dict[str, str] = {}
    current = ""
    for line in _plain(listing).splitlines():
        m = re.match(r"^\s*(?:config dir:\s*)?(/\S+)\s*$", line, re.IGNORECASE)
        if m:
            current = m.group(1)
            out.setdefault(current, "")
        elif current:
            out[current] += line + "\n"
    return out


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment minus whatever would point pip or Jupyter elsewhere than the venv under test."""
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PIP_NO_BUILD_ISOLATION", "PIP_USER", "PIP_TARGET", "PIP_PREFIX",
            "SKIP_JUPYTER_BUILDER", "HATCH_JUPYTER_BUILDER_SKIP_NPM", "JUPYTER_PATH", "JUPYTER_DATA_DIR",
            "JUPYTER_CONFIG_DIR", "JUPYTER_CONFIG_PATH",
            "PYTHONPYCACHEPREFIX")  # .ci/run's bytecode cache: the venv keeps its own, as on a newcomer's machine
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(extra)
    return env


def _run(cmd: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess[str]:
    # a session of its own: no controlling terminal, so the build's "no Node.js" line (which goes to
    # /dev/tty when there is one) stays in the captured output instead of the developer's terminal
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                          start_new_session=True, **kwargs)


def _assert_both_listed(venv: Path, jupyter: list[str], env: dict[str, str], cwd: Path) -> None:
    lab = _run([*jupyter, "labextension", "list"], 120, cwd=cwd, env=env)
    mine = _sections(lab.stdout + lab.stderr).get(str(venv / "share" / "jupyter" / "labextensions"), "")
    assert re.search(rf"{re.escape(NPM_NAME)} v0\.1\.0 .*enabled.*OK", mine), lab.stdout + lab.stderr

    server = _run([*jupyter, "server", "extension", "list"], 120, cwd=cwd, env=env)
    block = _sections(server.stdout + server.stderr).get(str(venv / "etc" / "jupyter"), "")
    assert re.search(r"flyte_jupyter\.server_ext\s+enabled", block), server.stdout + server.stderr
    assert re.search(r"flyte_jupyter\.server_ext\s+OK", block), server.stdout + server.stderr


def _copy_working_tree(dest: Path) -> Path:
    """What a clean clone of the working tree holds: tracked and untracked-but-not-ignored files that
    exist, without node_modules and build output."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True, timeout=60).stdout.decode().split("\0")
    for rel in listed:
        src = ROOT / rel
        if not rel or rel.startswith(NOT_COPIED) or not src.is_file():  # deleted but still tracked: skip
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    return dest


# --- the wheel ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BUILT.exists():
        pytest.fail("the labextension is not built: run .ci/setup-lab.sh (jlpm build:prod) first")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, timeout=600)
    (whl,) = out.glob("flyte_jupyter-*.whl")
    return whl


@pytest.fixture(scope="module")
def wheel_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with only the wheel of its own (the rest, jupyterlab included, from the system's site)."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, timeout=300)
    return venv


def test_wheel_ships_the_labextension_and_the_server_config(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = "flyte_jupyter-0.1.0.data/data/"
    ext = data + f"share/jupyter/labextensions/{NPM_NAME}/"
    assert ext + "package.json" in names
    assert ext + "install.json" in names
    assert ext + f"schemas/{NPM_NAME}/plugin.json" in names
    assert any(n.startswith(ext + "static/remoteEntry.") for n in names)
    assert data + "etc/jupyter/jupyter_server_config.d/flyte_jupyter.json" in names
    # and inside the package, where _jupyter_labextension_paths() points
    assert "flyte_jupyter/labextension/package.json" in names
    assert any(n.startswith("flyte_jupyter/labextension/static/remoteEntry.") for n in names)


def test_hooks_name_what_the_wheel_ships(wheel: Path, wheel_venv: Path, tmp_path: Path) -> None:
    # the hooks' dest is the npm name and the directory the wheel's shared-data installs into
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"flyte_jupyter/labextension" = "share/jupyter/labextensions/{NPM_NAME}"' in pyproject

    out = _run([wheel_venv / "bin" / "python", "-c", HOOKS], 60, cwd=tmp_path, env=_clean_env(), check=True)
    hooks = json.loads(out.stdout)
    assert Path(hooks["package"]).is_relative_to(wheel_venv), hooks  # the installed wheel, not the checkout
    assert hooks["lab"] == LABEXTENSION_PATHS, hooks
    assert [p["dest"] for p in hooks["lab"]] == [NPM_NAME]
    assert hooks["src_package_json"] == [True], hooks  # `src` exists in the installed package
    names = zipfile.ZipFile(wheel).namelist()
    assert all(f"flyte_jupyter/{p['src']}/package.json" in names for p in hooks["lab"])
    assert hooks["server"] == SERVER_EXTENSION_POINTS, hooks


def test_fresh_venv_lists_both_extensions_enabled_and_ok(wheel_venv: Path, tmp_path: Path) -> None:
    # the apps behind `jupyter labextension` and `jupyter server extension`, run by the venv's python
    # (a --system-site-packages venv has no jupyter-* scripts of its own, and `jupyter` would find
    # the system's on PATH)
    py = str(wheel_venv / "bin" / "python")
    env = _clean_env(VIRTUAL_ENV=str(wheel_venv))
    lab = _run([py, "-m", "jupyterlab.labextensions", "list"], 120, cwd=tmp_path, env=env)
    mine = _sections(lab.stdout + lab.stderr).get(str(wheel_venv / "share" / "jupyter" / "labextensions"), "")
    assert re.search(rf"{re.escape(NPM_NAME)} v0\.1\.0 .*enabled.*OK", mine), lab.stdout + lab.stderr

    server = _run([py, "-m", "jupyter_server.extension.serverextension", "list"], 120, cwd=tmp_path, env=env)
    block = _sections(server.stdout + server.stderr).get(str(wheel_venv / "etc" / "jupyter"), "")
    assert re.search(r"flyte_jupyter\.server_ext\s+enabled", block), server.stdout + server.stderr
    assert re.search(r"flyte_jupyter\.server_ext\s+OK", block), server.stdout + server.stderr


# --- pip install -e . from a clean copy, in a venv of its own -------------------------------------------

@pytest.mark.timeout(480)
def test_editable_install_in_a_fresh_venv_builds_the_panel(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: `pip install -e .` cannot build the side panel here")
    src = _copy_working_tree(tmp_path / "src")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)  # no system site
    # node stays on PATH, any other jlpm goes: only build isolation (jupyterlab in build-system.requires)
    # can bring the one the build uses, as on a newcomer's machine
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "jlpm").exists()]
    if shutil.which("node", path=os.pathsep.join(path)) is None:  # node and jlpm side by side (conda)
        path = os.environ.get("PATH", "").split(os.pathsep)
    env = _clean_env(PATH=os.pathsep.join([str(venv / "bin"), *path]))
    pip = _run([venv / "bin" / "python", "-m", "pip", "install", "-e", f"{src}[lab]"], 420, cwd=tmp_path,
               env=env)
    assert pip.returncode == 0, pip.stdout[-6000:] + pip.stderr[-6000:]
    assert (src / "flyte_jupyter" / "labextension" / "static" / "style.js").is_file(), "the panel was not built"

    _assert_both_listed(venv, [str(venv / "bin" / "jupyter")], env, tmp_path)

    # the hooks of the editable install point into the checkout, where the build put the panel
    # (what `jupyter labextension develop` links)
    out = _run([venv / "bin" / "python", "-c", HOOKS], 60, cwd=tmp_path, env=env, check=True)
    hooks = json.loads(out.stdout)
    assert Path(hooks["package"]).resolve() == (src / "flyte_jupyter").resolve(), hooks
    assert hooks["lab"] == LABEXTENSION_PATHS, hooks
    assert hooks["src_package_json"] == [True], hooks
    assert hooks["server"] == SERVER_EXTENSION_POINTS, hooks


# --- without Node.js -------------------------------------------------------------------------------------

@pytest.fixture
def no_node_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A clean copy of the working tree and an environment whose PATH has no node (nor anything else)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return _copy_working_tree(tmp_path / "src"), _clean_env(PATH=str(empty))


def test_without_node_a_wheel_is_python_only_and_says_so_in_one_line(no_node_copy: tuple[Path, dict[str, str]],
                                                                     tmp_path: Path) -> None:
    pytest.importorskip("hatch_jupyter_builder")
    src, env = no_node_copy
    # `pip install .` and `pip install -e .` (hatchling's editable wheels need the `editables` package)
    for version in ("standard", "editable") if importlib.util.find_spec("editables") else ("standard",):
        out = tmp_path / f"dist-{version}"
        built = _run([sys.executable, "-m", "hatchling", "build", "-t", f"wheel:{version}", "-d", out], 120,
                     cwd=src, env=env)
        assert built.returncode == 0, built.stdout + built.stderr
        said = [line for line in built.stderr.splitlines() if "Node.js" in line]
        assert len(said) == 1 and said[0].startswith(NO_NODE_LINE), built.stderr
        assert not (src / "flyte_jupyter" / "labextension").exists()
        (whl,) = out.glob("*.whl")
        assert not any("labextension/static" in n for n in zipfile.ZipFile(whl).namelist())


def test_without_node_an_sdist_refuses(no_node_copy: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    pytest.importorskip("hatch_jupyter_builder")
    src, env = no_node_copy
    built = _run([sys.executable, "-m", "hatchling", "build", "-t", "sdist", "-d", tmp_path / "dist"], 120,
                 cwd=src, env=env)
    assert built.returncode != 0
    assert "Node.js not found, and an sdist must carry the built JupyterLab side panel" in built.stderr, \
        built.stdout + built.stderr
