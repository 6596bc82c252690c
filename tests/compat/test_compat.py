"""Conformance: every program in tests/compat/programs runs the same in local and in remote mode.

Each program (see run_program.py for the contract) runs as its own process, once in local mode and
once against one real backend shared by this module, whose action processes find `flyte` through
tests/compat/shim. Both runs must give the same normalized output, or fail with the same Flyte
error class; and that must be the program's `EXPECT` / `EXPECT_ERROR` when it declares one. A program
may limit itself with `MODES = ("local",)`.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from _backend_fixture import BackendProcess

HERE = Path(__file__).resolve().parent
PROGRAMS = sorted(p for p in (HERE / "programs").glob("*.py") if not p.name.startswith("_"))
ROOT = HERE.parents[1]


def metadata(path: Path) -> dict[str, Any]:
    """The program's module-level literals (INPUTS, EXPECT, EXPECT_ERROR, MODES, ...), read without
    importing it (importing needs `flyte`)."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.isupper():
                try:
                    found[name] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return found


@pytest.fixture(scope="module")
def compat_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    shim = str(HERE / "shim")
    path = os.pathsep.join(p for p in (shim, str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    # Programs written for Flyte assume a cluster's parallelism: a parent, its sleeping children and
    # the sibling that fails must all run at once (the default is one action per core).
    backend = BackendProcess(tmp_path_factory.mktemp("compat-backend"), env={"PYTHONPATH": path},
                             extra_args=["--max-parallelism", "16"])
    with backend:
        yield backend


def run_program(path: Path, mode: str, data_dir: Path, config: Path | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE / "run_program.py"), str(path), "--impl", "ours", "--mode", mode]
    if config is not None:
        cmd += ["--config", str(config)]
    env = {k: v for k, v in os.environ.items() if k != "FLYTE_JUPYTER_CONFIG"}
    env["FLYTE_JUPYTER_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=str(ROOT))
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith('{"ok"'):
            return json.loads(line)
    raise AssertionError(f"{path.name} ({mode}) printed no result (exit {proc.returncode}):\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")


def outcome(result: dict[str, Any]) -> tuple[Any, ...]:
    return ("ok", result["output"]) if result["ok"] else ("error", result["error_class"])


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_program_runs_the_same_in_both_modes(path: Path, compat_backend: BackendProcess, tmp_path: Path) -> None:
    meta = metadata(path)
    modes = tuple(meta.get("MODES", ("local", "remote")))
    results = {}
    if "local" in modes:
        results["local"] = run_program(path, "local", tmp_path / "local")
    if "remote" in modes:
        results["remote"] = run_program(path, "remote", tmp_path / "remote", compat_backend.client_yaml)
    for mode, result in results.items():
        if "EXPECT_ERROR" in meta:
            assert not result["ok"] and result["error_class"] == meta["EXPECT_ERROR"], (mode, result)
        else:
            assert result["ok"], (mode, result)
            if "EXPECT" in meta:
                assert result["output"] == meta["EXPECT"], (mode, result)
    if len(results) == 2:
        assert outcome(results["local"]) == outcome(results["remote"]), results


def test_metadata_reader_and_normalizer() -> None:
    sys.path.insert(0, str(HERE))
    import run_program as rp

    assert metadata(HERE / "programs" / "errors_uncaught.py")["EXPECT_ERROR"] == "RuntimeUserError"
    assert rp.normalize((1, {2, 1}, b"x")) == [1, [1, 2], "x"]

    class ActionOutputs(tuple):
        pass

    assert rp.normalize(ActionOutputs(("only",))) == "only"
    from flyte_jupyter import errors

    failure = errors.action_failure(action="a1", task="t", kind="ValueError", message="m")
    assert rp.error_class(failure) == "RuntimeUserError"
    assert rp.error_class(errors.action_failure(action="a1", task="t", kind="OOMKilled", message="m")) == "OOMError"
    assert rp.error_class(KeyError("k")) == "KeyError"
