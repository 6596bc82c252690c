"""A script or notebook named like an installed module (`argparse.py`, `dask.ipynb`) gets a module
name of its own in the run (`script_argparse`, `nb_dask`): named after itself, the run took the real
module (already imported) for the script's and bundled that, and the action found no task in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flyte_jupyter._internal.runtime.module_names import bundle_module_name

SCRIPT = '''
import argparse  # the real one: the CLI imported it before the script
import json

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="shadow")


@env.task
def main(n: int) -> str:
    return json.dumps({"n": n, "real": hasattr(argparse, "ArgumentParser")})
'''


def test_a_script_named_like_an_imported_module_runs_on_the_backend(flyte_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "argparse.py"  # not in the cwd, which `python -m` puts on sys.path
    script.write_text(SCRIPT)
    env = {**os.environ, "FLYTE_JUPYTER_DATA_DIR": str(tmp_path / "data")}
    env.pop("FLYTE_JUPYTER_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "run", "--remote", "--config",
                           str(flyte_backend.client_yaml), str(script), "main", "--n", "3"],
                          capture_output=True, text=True, env=env, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith('{"n": 3, "real": true}')
    assert "runs as module script_argparse" in proc.stderr and "rename the script" in proc.stderr


def test_names_avoid_installed_standard_and_sibling_modules(tmp_path: Path) -> None:
    assert bundle_module_name("work/analysis.ipynb", "nb_") == ("analysis", False)
    assert bundle_module_name("json.ipynb", "nb_") == ("nb_json", True)
    assert bundle_module_name("grpc.ipynb", "nb_") == ("nb_grpc", True)  # installed, not standard
    assert bundle_module_name("2024 q1.ipynb", "nb_") == ("nb_2024_q1", False)  # only made valid
    (tmp_path / "helpers.py").write_text("X = 1\n")
    assert bundle_module_name(tmp_path / "helpers.ipynb", "nb_", tmp_path) == ("nb_helpers", True)
    own = tmp_path / "mine_only.py"
    own.write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:  # a script is not taken by itself, also when its folder is on sys.path
        assert bundle_module_name(own, "script_", tmp_path) == ("mine_only", False)
    finally:
        sys.path.remove(str(tmp_path))
