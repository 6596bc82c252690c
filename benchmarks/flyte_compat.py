"""Conformance table: every tests/compat/programs/*.py under Flyte 2 (local) and under ours (local, and
remote on a freshly started embedded backend), side by side.

Each cell is one process of the conformance harness (tests/compat/run_program.py, whose docstring
has the program contract): `flyte.run(main, **INPUTS)` and its normalized outcome, an output or a
Flyte error class. Flyte 2 runs from a Python with the real `flyte` installed: $FLYTE_PYTHON, else
~/flyte-venv/bin/python; `--install` creates ~/flyte-venv (`python3 -m venv ~/flyte-venv &&
~/flyte-venv/bin/pip install flyte`, plus what the programs import: pandas, pyarrow, pydantic,
typing_extensions). The backend's actions find `flyte` through tests/compat/shim, as in
tests/compat/test_compat.py.

Cells:
  Flyte 2:  `ok` (it ran, and raised EXPECT_ERROR if the program declares one), `error <Class>`, or
            `differs` (outcome other than the program's EXPECT, for a program marked
            DIFFERS_FROM_FLYTE_LOCAL, or where EXPECT records our documented behaviour).
  ours:     `ok` (the same outcome as Flyte 2, or the program's EXPECT / EXPECT_ERROR where Flyte 2
            differs knowingly), `error <Class>` (an unexpected failure), `mismatch` (another output:
            `--verbose` prints every outcome), `-` (not run: MODES, or no Flyte found).

Usage: python benchmarks/flyte_compat.py [--install] [--only PREFIX] [--no-remote] [--verbose] [--json FILE]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COMPAT = ROOT / "tests" / "compat"
PROGRAMS = COMPAT / "programs"
RUNNER = COMPAT / "run_program.py"
TIMEOUT_S = 600
FLYTE_VENV = Path.home() / "flyte-venv"
EXTRA_FOR_PROGRAMS = ["pandas", "pyarrow", "pydantic", "typing_extensions"]


def flyte_python(install: bool) -> str | None:
    """A Python that imports the real `flyte` ($FLYTE_PYTHON, ~/flyte-venv), made with --install."""
    for candidate in (os.environ.get("FLYTE_PYTHON"), str(FLYTE_VENV / "bin" / "python")):
        if candidate and Path(candidate).exists():
            if subprocess.run([candidate, "-c", "import flyte"], capture_output=True).returncode == 0:
                return candidate
    if not install:
        return None
    print(f"creating {FLYTE_VENV} with flyte (a minute or two)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(FLYTE_VENV)], check=True)
    pip = [str(FLYTE_VENV / "bin" / "pip"), "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "flyte", *EXTRA_FOR_PROGRAMS], check=True)
    return str(FLYTE_VENV / "bin" / "python")


def metadata(path: Path) -> dict[str, Any]:
    """The program's upper-case module-level literals (INPUTS, EXPECT, EXPECT_ERROR, MODES, ...)."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id.isupper():
                try:
                    found[node.targets[0].id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return found


def run(python: str, program: Path, impl: str, mode: str, data_dir: Path, config: Path | None = None) -> dict[str, Any]:
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [python, str(RUNNER), str(program), "--impl", impl, "--mode", mode]
    if config is not None:
        cmd += ["--config", str(config)]
    env = {k: v for k, v in os.environ.items() if k not in ("FLYTE_JUPYTER_CONFIG", "PYTHONPATH")}
    env["TMPDIR"] = str(data_dir / "tmp")  # what the programs' own mkdtemp() make goes with the work dir
    (data_dir / "tmp").mkdir(exist_ok=True)
    if impl == "ours":
        env["FLYTE_JUPYTER_DATA_DIR"] = str(data_dir)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=str(data_dir))
    except subprocess.TimeoutExpired:
        return {"ok": False, "output": None, "error_class": "Timeout", "error": f"no result within {TIMEOUT_S}s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith('{"ok"'):
            return json.loads(line)
    tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
    return {"ok": False, "output": None, "error_class": "Crashed", "error": f"exit {proc.returncode}: {tail}"}


def outcome(result: dict[str, Any]) -> tuple[Any, ...]:
    return ("ok", result["output"]) if result["ok"] else ("error", result.get("error_class"))


def expected(meta: dict[str, Any]) -> tuple[Any, ...] | None:
    if "EXPECT_ERROR" in meta:
        return ("error", meta["EXPECT_ERROR"])
    if "EXPECT" in meta:
        return ("ok", meta["EXPECT"])
    return None


def flyte_cell(result: dict[str, Any] | None, meta: dict[str, Any]) -> str:
    if result is None:
        return "-"
    want = expected(meta)
    if want is not None and outcome(result) != want:
        return "differs"
    if not result["ok"] and want is None:
        return f"error {result.get('error_class')}"
    return "ok"


def ours_cell(result: dict[str, Any] | None, reference: dict[str, Any] | None, meta: dict[str, Any]) -> str:
    if result is None:
        return "-"
    got = outcome(result)
    want = expected(meta)
    flyte_agrees = reference is not None and (want is None or outcome(reference) == want)
    if flyte_agrees and reference is not None:
        target: tuple[Any, ...] | None = outcome(reference)
    else:
        target = want
    if target is None:  # no Flyte to compare with and no EXPECT: only a failure is informative
        return "ok" if result["ok"] else f"error {result.get('error_class')}"
    if got == target:
        return "ok"
    return f"error {result.get('error_class')}" if not result["ok"] else "mismatch"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="create ~/flyte-venv with flyte if none is found")
    parser.add_argument("--only", default="", help="run only programs whose name starts with this")
    parser.add_argument("--no-remote", action="store_true", help="skip ours on the embedded backend")
    parser.add_argument("--verbose", action="store_true", help="print every outcome")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    args = parser.parse_args()

    programs = sorted(p for p in PROGRAMS.glob("*.py") if p.stem.startswith(args.only) and not p.stem.startswith("_"))
    if not programs:
        print(f"no programs in {PROGRAMS} starting with {args.only!r}", file=sys.stderr)
        return 1
    theirs = flyte_python(args.install)
    if theirs is None:
        print("(no Python with flyte: set FLYTE_PYTHON or pass --install; the Flyte 2 column stays empty)",
              file=sys.stderr)

    work = Path(tempfile.mkdtemp(prefix="flyte-compat-"))
    backend = None
    if not args.no_remote:
        sys.path.insert(0, str(ROOT / "tests"))
        from _backend_fixture import BackendProcess

        shim_path = os.pathsep.join(p for p in (str(COMPAT / "shim"), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        # As the conformance tests do: enough slots that no program waits on the core count (a program
        # whose children sleep would otherwise measure our default of one slot per core, not Flyte semantics).
        (work / "tmp").mkdir()
        backend = BackendProcess(work / "backend", env={"PYTHONPATH": shim_path, "TMPDIR": str(work / "tmp")},
                                 extra_args=["--max-parallelism", "16"])
        backend.start()
    results: dict[str, dict[str, Any]] = {}
    try:
        for program in programs:
            meta = metadata(program)
            modes = tuple(meta.get("MODES", ("local", "remote")))
            row: dict[str, Any] = {}
            folder = work / program.stem
            folder.mkdir()
            if theirs:
                row["flyte"] = run(theirs, program, "flyte", "local", folder)
            if "local" in modes:
                row["ours_local"] = run(sys.executable, program, "ours", "local", folder / "local")
            if backend is not None and "remote" in modes:
                row["ours_remote"] = run(sys.executable, program, "ours", "remote", folder / "remote", backend.client_yaml)
            results[program.stem] = row
            print(f"  {program.stem}: " + ", ".join(
                f"{k} {'ok' if v['ok'] else v.get('error_class')}" for k, v in row.items()), file=sys.stderr, flush=True)
    finally:
        if backend is not None:
            backend.stop()
            backend.kill_actions()
        shutil.rmtree(work, ignore_errors=True)

    header = ["program", "Flyte 2", "ours local", "ours remote"]
    rows = []
    for name, row in results.items():
        meta = metadata(PROGRAMS / f"{name}.py")
        ref = row.get("flyte")
        rows.append([name, flyte_cell(ref, meta), ours_cell(row.get("ours_local"), ref, meta),
                     ours_cell(row.get("ours_remote"), ref, meta)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    if args.verbose:
        for name, row in results.items():
            print(f"\n## {name}")
            for key, value in row.items():
                print(f"{key}: {json.dumps(value, default=repr)[:1500]}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=repr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
