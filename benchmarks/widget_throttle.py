"""What the live run widget costs the kernel: a 1000-action local run with and without it.

Starts a real ipykernel, runs a task fanning out to N trivial children in local mode

  1. with no view (the run's value only),
  2. with the `%%flyte run --local` widget (throttled: renders coalesced, capped tree),
  3. the same widget with output streaming on: every leaf prints a line (and a `\r` progress
     update), which the widget captures and shows as its capped output stream,
  4. with a naive view that re-renders the text tree into a widget on every event (what the
     throttling avoids),

and prints, for each, the kernel process's CPU seconds (all its threads, from psutil), the wall
time of the cell, and the IOPub messages and bytes the frontend had to take. The client here
drains IOPub like a frontend would.

    python benchmarks/widget_throttle.py [--n 1000] [--repeat 3] [--leaf-sleep 0]

With `--leaf-sleep S` the leaves take about S seconds each (staggered), so the run lasts and the
figures show the widget's steady cost while a big run is live.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

SETUP = """
import flyte_jupyter as flyte, asyncio
env = flyte.TaskEnvironment("bench")

@env.task
async def leaf(i: int) -> int:
    if LEAF_SLEEP:
        await asyncio.sleep(LEAF_SLEEP * (1 + i % 7) / 4)  # staggered, so the tree keeps changing
    return i

@env.task
async def fan(n: int) -> int:
    return sum(await asyncio.gather(*[leaf(i) for i in range(n)]))

@env.task
async def talk(i: int) -> int:
    import sys
    sys.stderr.write(f"leaf {i}: working\\r")  # a progress line, redrawn
    print(f"leaf {i} done")
    if LEAF_SLEEP:
        await asyncio.sleep(LEAF_SLEEP * (1 + i % 7) / 4)
    return i

@env.task
async def fan_talk(n: int) -> int:
    return sum(await asyncio.gather(*[talk(i) for i in range(n)]))
"""

SCENARIOS = {
    "no view": "_r = flyte.with_runcontext(mode='local').run(fan, n={n}); _r.outputs()",
    "throttled widget": "%%flyte run --local\nawait fan(n={n})",
    "widget + output": "%%flyte run --local\nawait fan_talk(n={n})",
    "naive widget": """import ipywidgets as W
from IPython.display import display
_box = W.HTML(); display(_box)
_r = flyte.with_runcontext(mode='local').start_local(fan, ({n},), {{}})
_r.state.subscribe(lambda e, i: setattr(_box, 'value', '<pre>' + _r.tree_text() + '</pre>'))
_r.wait(); _r.outputs()""",
}


def _execute(kc: Any, code: str, timeout: float = 600) -> tuple[float, int, int]:
    """Run code; return (wall seconds, iopub messages, iopub bytes) until the kernel is idle."""
    t0 = time.perf_counter()
    msg_id = kc.execute(code)
    count = size = 0
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
        count += 1
        size += len(json.dumps(msg["content"], default=str))
        if msg["msg_type"] == "error" and msg["parent_header"].get("msg_id") == msg_id:
            raise RuntimeError("\n".join(msg["content"]["traceback"]))
        if (msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id):
            break
    kc.get_shell_msg(timeout=30)
    return time.perf_counter() - t0, count, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="children of the root task (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; the median is shown")
    parser.add_argument("--leaf-sleep", type=float, default=0.0, help="seconds each leaf sleeps (default 0)")
    args = parser.parse_args()

    import psutil
    from jupyter_client.manager import start_new_kernel

    data = tempfile.mkdtemp(prefix="flyte-bench-")
    env = dict(os.environ, FLYTE_JUPYTER_DATA_DIR=data,
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        proc = psutil.Process(km.provisioner.process.pid)
        _execute(kc, "%load_ext flyte_jupyter")
        _execute(kc, f"LEAF_SLEEP = {args.leaf_sleep!r}\n" + SETUP)
        _execute(kc, SCENARIOS["no view"].format(n=10))  # warm up imports and the local loop
        what = f", leaves sleeping ~{args.leaf_sleep:g} s" if args.leaf_sleep else ""
        print(f"{args.n}-action local run{what}, kernel CPU per cell (median of {args.repeat}); "
              f"python {sys.version.split()[0]}")
        print(f"{'scenario':<18} {'kernel CPU s':>12} {'wall s':>8} {'iopub msgs':>11} {'iopub KiB':>10}")
        for label, template in SCENARIOS.items():
            rows = []
            for _ in range(args.repeat):
                before = sum(proc.cpu_times()[:2])
                wall, count, size = _execute(kc, template.format(n=args.n))
                rows.append((sum(proc.cpu_times()[:2]) - before, wall, count, size))
            rows.sort()
            cpu, wall, count, size = rows[len(rows) // 2]
            print(f"{label:<18} {cpu:>12.2f} {wall:>8.2f} {count:>11} {size / 1024:>10.1f}")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
