"""Local-mode overhead, ours beside Flyte 2's SDK, measured in the same run.

Prints: import time; wall and CPU of one trivial run in a fresh process; CPU per child for a parent
gathering 100 and 1000 trivial children. Flyte's figures appear when a Python with `flyte` installed
is found ($FLYTE_PYTHON, or ~/flyte-venv/bin/python); create one with
`python -m venv ~/flyte-venv && ~/flyte-venv/bin/pip install flyte`.

Usage: python benchmarks/local_fanout.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

IMPORT = """
import time, json
t = time.perf_counter(); import {mod} as flyte; a = time.perf_counter() - t
env = flyte.TaskEnvironment(name="bench")
@env.task
async def noop(x: int) -> int:
    return x
b = time.perf_counter() - t
print(json.dumps({{"import": a, "import_and_declare": b}}))
"""

ONE_RUN = """
import json, os, resource, time
t0 = time.perf_counter()
import {mod} as flyte
env = flyte.TaskEnvironment(name="bench")
@env.task
async def noop(x: int) -> int:
    return x
flyte.init()
run = flyte.run(noop, x=1)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"wall": wall, "cpu": ru.ru_utime + ru.ru_stime}}))
os._exit(0)
"""

FANOUT = """
import asyncio, json, os, time
import {mod} as flyte
env = flyte.TaskEnvironment(name="bench")
@env.task
async def child(x: int) -> int:
    return x
@env.task
async def parent(n: int) -> int:
    return sum(await asyncio.gather(*(child(i) for i in range(n))))
flyte.init()
flyte.run(parent, n=5)  # warm up
out = {{}}
for n in {sizes}:
    c0, w0 = time.process_time(), time.perf_counter()
    flyte.run(parent, n=n)
    c1, w1 = time.process_time(), time.perf_counter()
    flyte.run(parent, n=0)
    c2 = time.process_time()
    out[str(n)] = {{"cpu_per_child_ms": ((c1 - c0) - (c2 - c1)) / n * 1000, "wall_s": w1 - w0}}
print(json.dumps(out))
os._exit(0)
"""


def _run(python: str, code: str, env: dict[str, str]) -> dict:
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(python: str, mod: str, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FLYTE_JUPYTER_DATA_DIR": tmp, "HOME": os.environ.get("HOME", tmp)}
        env.pop("FLYTE_JUPYTER_CONFIG", None)
        imports = [_run(python, IMPORT.format(mod=mod), env) for _ in range(repeat)]
        runs = [_run(python, ONE_RUN.format(mod=mod), env) for _ in range(repeat)]
        fan = [_run(python, FANOUT.format(mod=mod, sizes=[100, 1000]), env) for _ in range(max(1, repeat // 2))]
    med = statistics.median
    return {
        "import_s": med(r["import"] for r in imports),
        "import_and_declare_s": med(r["import_and_declare"] for r in imports),
        "one_run_wall_s": med(r["wall"] for r in runs),
        "one_run_cpu_s": med(r["cpu"] for r in runs),
        "cpu_per_child_ms_100": med(f["100"]["cpu_per_child_ms"] for f in fan),
        "cpu_per_child_ms_1000": med(f["1000"]["cpu_per_child_ms"] for f in fan),
        "wall_1000_children_s": med(f["1000"]["wall_s"] for f in fan),
    }


def _flyte_python() -> str | None:
    for candidate in (os.environ.get("FLYTE_PYTHON"), str(Path.home() / "flyte-venv" / "bin" / "python")):
        if candidate and Path(candidate).exists():
            ok = subprocess.run([candidate, "-c", "import flyte"], capture_output=True).returncode == 0
            if ok:
                return candidate
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {"flyte_jupyter": measure(sys.executable, "flyte_jupyter", args.repeat)}
    flyte_py = _flyte_python()
    if flyte_py:
        results["flyte 2 (local)"] = measure(flyte_py, "flyte", args.repeat)
    names = list(results)
    print(f"{'figure (median)':32}" + "".join(f"{n:>20}" for n in names))
    for key in results[names[0]]:
        print(f"{key:32}" + "".join(f"{results[n][key]:>20.4f}" for n in names))
    if len(names) == 2:
        ours, theirs = results[names[0]], results[names[1]]
        print(f"\nimport ratio (ours/flyte): {ours['import_s'] / theirs['import_s']:.3f} (target <= 0.333)")
        for size in ("100", "1000"):
            key = f"cpu_per_child_ms_{size}"
            print(f"CPU per child ratio at {size}: {ours[key] / theirs[key]:.3f} (target <= 0.25)")
    else:
        print("\n(flyte not found: set FLYTE_PYTHON to a Python with `flyte` installed for the comparison)")


if __name__ == "__main__":
    main()
