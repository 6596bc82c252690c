"""`flyte-jupyter run` in local mode, through the real console script."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _cli(*args, env_dir):
    import os

    env = {**os.environ, "FLYTE_JUPYTER_DATA_DIR": str(env_dir)}
    env.pop("FLYTE_JUPYTER_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_run_prints_tree_and_result(isolated_data_dir):
    proc = _cli("run", "--local", str(EXAMPLES / "hello.py"), "main", "--data", "hi", "--n", "3", env_dir=isolated_data_dir)
    assert proc.returncode == 0, proc.stderr
    assert "hello.say_hello" in proc.stdout and "SUCCEEDED" in proc.stdout
    assert proc.stdout.strip().endswith("Hello hi [0, 1, 2]")


def test_bad_inputs_and_missing_tasks_are_explained(isolated_data_dir):
    proc = _cli("run", "--local", str(EXAMPLES / "hello.py"), "main", "--count", "3", env_dir=isolated_data_dir)
    assert proc.returncode != 0 and "no input 'count'" in proc.stderr and "['data', 'n']" in proc.stderr
    proc = _cli("run", str(EXAMPLES / "hello.py"), "main", "--local", env_dir=isolated_data_dir)
    assert "before FILE TASK" in proc.stderr
    proc = _cli("run", str(EXAMPLES / "hello.py"), "nope", env_dir=isolated_data_dir)
    assert "no task named 'nope'" in proc.stderr and "main" in proc.stderr
    proc = _cli("run", str(EXAMPLES / "hello.py"), "main", "--n", "lots", env_dir=isolated_data_dir)
    assert proc.returncode == 1 and proc.stderr.startswith("error: input 'n' of task 'hello.main' expects int")
    assert "Traceback" not in proc.stderr
