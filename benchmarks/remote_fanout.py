"""Submit-to-result latency and fan-out wall time through a real backend, beside local mode and Ray.

    python benchmarks/remote_fanout.py [--sizes 100 1000] [--repeat 5] [--max-parallelism N]
                                       [--store postgresql://user@host:5432/db]

Starts its own backend (a temporary data dir, a free loopback port), runs:
  - a trivial one-action run, `--repeat` times: submit-to-result latency (median, best);
  - a parent fanning out to N trivial children, for each N in --sizes;
and the same work in local mode, then prints one table. Every remote action is its own process.
With `--store URL` the remote figures are measured twice, on SQLite and on that database (a fresh
backend each), and printed side by side.

The anchor: Ray's local fan-out (N trivial `@ray.remote` tasks gathered with `ray.get`, after a
warm-up, on a local Ray started with as many CPUs as the machine has), measured in the same run
when a Python with `ray` is found ($RAY_PYTHON, or ~/ray-venv/bin/python; create one with
`python -m venv ~/ray-venv && ~/ray-venv/bin/pip install ray`). Ray is never a dependency of this
project; it runs in its own interpreter as a subprocess. Note that Ray runs tasks in warm worker
processes it reuses (like a `reusable=` environment here), not one process per task.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


RAY_FANOUT = """
import json, os, time
import ray
ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR", log_to_driver=False)
@ray.remote
def noop(x):
    return x + 1
ray.get([noop.remote(i) for i in range(200)])  # warm up: start the workers
out = {{}}
for n in {sizes}:
    times = []
    for _ in range({repeat}):
        t = time.perf_counter()
        assert sum(ray.get([noop.remote(i) for i in range(n)])) == sum(range(1, n + 1))
        times.append(time.perf_counter() - t)
    out[str(n)] = times
ray.shutdown()
print(json.dumps(out))
"""


def _ray_python() -> str | None:
    for candidate in (os.environ.get("RAY_PYTHON"), str(Path.home() / "ray-venv" / "bin" / "python")):
        if candidate and Path(candidate).exists():
            if subprocess.run([candidate, "-c", "import ray"], capture_output=True).returncode == 0:
                return candidate
    return None


def ray_fanout(sizes: list[int], repeat: int) -> dict[int, list[float]] | str:
    """Wall times of Ray's local fan-out per size, or why it could not be measured."""
    python = _ray_python()
    if python is None:
        return "not measured: no Python with ray (set RAY_PYTHON or create ~/ray-venv)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_JUPYTER_")}
    with tempfile.TemporaryDirectory(prefix="fj-ray-") as tmp:
        proc = subprocess.run([python, "-c", RAY_FANOUT.format(sizes=sizes, repeat=repeat)], capture_output=True,
                              text=True, env=env, cwd=tmp, timeout=600)
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return {int(k): v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by process `pid` and its descendants, including the children they
    have reaped (utime + stime + cutime + cstime from /proc): the cost of the work whatever the
    machine's other load, which the wall times are not."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, list[str]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = (int(fields[1]), fields)
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, _) in stats.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    return sum(sum(int(f) for f in stats[p][1][11:15]) for p in tree if p in stats) / tick


def _fanout(run, fn, n: int, repeat: int, pid: int | None) -> str:  # type: ignore[no-untyped-def]
    """Median (best) wall time of `repeat` fan-outs, and the CPU per action of the backend's tree."""
    expected = sum(range(1, n + 1))
    times, cpus = [], []
    for _ in range(repeat):
        cpu0 = _tree_cpu(pid) if pid else 0.0
        t, value = _timed(lambda: run.run(fn, n=n).outputs())
        assert value == expected, value
        times.append(t)
        if pid:
            cpus.append((_tree_cpu(pid) - cpu0) / n * 1000)
    t = statistics.median(times)
    cpu = f", {statistics.median(cpus):.1f} ms CPU/action" if cpus else ""
    return f"{t:.2f} s ({n / t:.0f}/s, best {n / min(times):.0f}{cpu})"


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-parallelism", type=int, default=None,
                        help="backend concurrency bound (default: the core count)")
    parser.add_argument("--fanout-repeat", type=int, default=3, help="runs of each fan-out (median, best)")
    parser.add_argument("--kinds", nargs="+", choices=["forked", "reusable"], default=["forked", "reusable"],
                        help="which fan-outs to run (one kind alone is measured before sustained load "
                             "slows a shared host down)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray anchor")
    parser.add_argument("--store", default=None,
                        help="also measure on this state database (postgresql://...), beside SQLite")
    args = parser.parse_args()
    ray = "skipped (--no-ray)" if args.no_ray else ray_fanout(args.sizes, 3)

    import _fanout_tasks as tasks

    import flyte_jupyter as flyte

    stores = [("sqlite", None)] + ([(args.store.split("://", 1)[0], args.store)] if args.store else [])
    columns: list[dict[str, str]] = []
    for _, url in stores:
        remote_rows, status = _remote(args, tasks, url)
        columns.append(remote_rows)
    local = flyte.with_runcontext(mode="local")
    lat_local = [_timed(lambda: local.run(tasks.noop, x=1).outputs())[0] for _ in range(args.repeat)]
    local_rows = {"trivial run, submit to result": f"{statistics.median(lat_local) * 1000:.1f} ms"}
    for n in args.sizes if "forked" in args.kinds else []:
        local_rows[f"parent + {n} children"] = _fanout(local, tasks.fanout, n, args.fanout_repeat, None)
    for n in args.sizes if "reusable" in args.kinds else []:
        local_rows[f"parent + {n} children, reusable env"] = _fanout(local, tasks.fanout_warm, n, args.fanout_repeat, None)

    print(f"\nremote: every action its own process (fork server), backend parallelism {status['max_parallelism']}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; CPU = backend and all its processes")
    names = list(columns[0])
    width = max(len(n) for n in names)
    widths = [max(len(c[n]) for n in names) for c in columns]
    head = "  ".join(f"{'remote, ' + label + ' (actions/s)':<{w}}" for (label, _), w in zip(stores, widths))
    print(f"{'':<{width}}  {head}  local")
    for name in names:
        cells = "  ".join(f"{c[name]:<{w}}" for c, w in zip(columns, widths))
        print(f"{name:<{width}}  {cells}  {local_rows[name]}")
    if isinstance(ray, str):
        print(f"\nanchor, Ray local fan-out: {ray}")
    else:
        print(f"\nanchor, Ray local fan-out ({os.cpu_count()} CPUs, warm workers, median of 3):")
        for n, times in ray.items():
            t = statistics.median(times)
            print(f"{f'ray: {n} tasks gathered':<{width}}  {t:.2f} s ({n / t:.0f}/s, best {n / min(times):.0f})")
    return 0


def _remote(args, tasks, store_url):  # type: ignore[no-untyped-def]
    """The remote figures on a fresh backend whose state is in `store_url` (None: SQLite)."""
    import flyte_jupyter as flyte
    from flyte_jupyter._internal.client import embedded as _embedded

    rows: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="fj-bench-") as tmp:
        os.environ["FLYTE_JUPYTER_DATA_DIR"] = tmp
        extra = ["--max-parallelism", str(args.max_parallelism)] if args.max_parallelism else []
        if store_url:
            cfg = Path(tmp) / "backend.yaml"
            cfg.write_text(json.dumps({"store": {"url": store_url}}))  # JSON is YAML
            extra += ["--config", str(cfg)]
        info = _embedded.start_backend(Path(tmp) / "backend", port=0, extra_args=extra)
        try:
            flyte.init_from_config(str(info.client_yaml))
            remote = flyte.with_runcontext(mode="remote")
            remote.run(tasks.noop, x=0).outputs()  # warm up: fork server, bundle upload, channel
            lat = []
            for i in range(args.repeat):
                t, value = _timed(lambda: remote.run(tasks.noop, x=i).outputs())
                assert value == i + 1
                lat.append(t)
            rows["trivial run, submit to result"] = f"{statistics.median(lat) * 1000:.0f} ms (best {min(lat) * 1000:.0f})"
            pid = info.pid if sys.platform.startswith("linux") else None
            for n in args.sizes if "forked" in args.kinds else []:
                rows[f"parent + {n} children"] = _fanout(remote, tasks.fanout, n, args.fanout_repeat, pid)
            remote.run(tasks.fanout_warm, n=4).outputs()  # start the warm workers
            for n in args.sizes if "reusable" in args.kinds else []:
                rows[f"parent + {n} children, reusable env"] = _fanout(remote, tasks.fanout_warm, n, args.fanout_repeat, pid)
            status = __import__("asyncio").run(flyte_jupyter_client(info.client_yaml).status())
        finally:
            _embedded.stop_backend(Path(tmp) / "backend")
            flyte.init()
    return rows, status


def flyte_jupyter_client(path):  # type: ignore[no-untyped-def]
    from flyte_jupyter._internal.client.grpc_client import BackendClient

    return BackendClient.from_file(path)


if __name__ == "__main__":
    sys.exit(main())
