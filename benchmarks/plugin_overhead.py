"""Launch overhead of each task type on the embedded backend, beside a python task.

    python benchmarks/plugin_overhead.py [--calls 10]

Starts its own backend (a temporary data dir, a free loopback port). A parent task calls one
trivial child of each type, one call at a time, and times each call from inside the parent (so
run submission is not counted): python (`return x`), sql (`select ? as x` on SQLite, run by the
backend without a process), and dask (a one-worker cluster started and stopped for each action).
Prints the median and best per call and each type's overhead over the python task.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _embedded_backend import embedded_backend  # noqa: E402

import flyte_jupyter as flyte  # noqa: E402
from flyte_jupyter.plugins.dask import Dask, WorkerGroup  # noqa: E402
from flyte_jupyter.plugins.sql import SQLite3Config, SQLite3Task  # noqa: E402

DB = os.environ.setdefault("FJ_BENCH_DB", str(Path(tempfile.gettempdir()) / "fj-plugin-bench.db"))

env = flyte.TaskEnvironment(name="bench_plugins")
dask_env = flyte.TaskEnvironment(name="bench_plugins_dask", plugin_config=Dask(workers=WorkerGroup(number_of_workers=1)))

one = SQLite3Task(name="bench_plugins.sql_one", query_template="select {{ .inputs.x }} as x", inputs={"x": int},
                  task_config=SQLite3Config(uri=DB))


@env.task
def py_one(x: int) -> int:
    return x


@dask_env.task
async def dask_one(x: int) -> int:
    return x


@env.task
async def timed(kind: str, calls: int) -> list[float]:
    """Milliseconds per call of a child of `kind`, called one at a time."""
    out = []
    for i in range(calls):
        t = time.perf_counter()
        if kind == "python":
            await py_one.aio(i)
        elif kind == "sql":
            await one.aio(x=i)
        else:
            await dask_one.aio(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    sqlite3.connect(DB).close()

    import plugin_overhead as tasks  # the module, not __main__: actions import it from the bundle

    rows = []
    with embedded_backend("fj-plugins-"):
        remote = flyte.with_runcontext(mode="remote")
        for kind in ("python", "sql", "dask"):
            remote.run(tasks.timed, kind=kind, calls=1).outputs()  # warm-up (templates, imports)
            times = remote.run(tasks.timed, kind=kind, calls=args.calls).outputs()
            rows.append((kind, statistics.median(times), min(times)))
    base = rows[0][1]
    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.calls} calls each, from a parent task")
    for kind, median, best in rows:
        extra = "" if kind == "python" else f"  ({median - base:+.1f} ms over python)"
        print(f"  {kind:<7} {median:8.1f} ms/call median, best {best:.1f}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
