"""Remote speed in one run: trivial runs, fan-outs and nested chains through a real backend, beside
local mode and Ray, each ratio printed next to its goal from issue 15.

    python benchmarks/remote_fanout.py [--sizes 100 1000] [--depth 20] [--repeat 5]
                                       [--max-parallelism N] [--store postgresql://user@host:5432/db]
    python benchmarks/remote_fanout.py --store postgresql:local    # a PostgreSQL started for the run

Starts its own backend (a temporary data dir, a free loopback port), runs:
  - a trivial one-action run, `--repeat` times: submit-to-result latency (median, best);
  - a parent fanning out to N trivial children, for each N in --sizes, with every child forked
    (its own process) and in a reusable environment (warm workers);
  - a chain of `--depth` nested calls (each level awaits the next; the tasks of
    benchmarks/remote_chain.py), forked and reusable: the time per level;
and the same work in local mode, then prints one table and the goals. With `--store URL` the
remote figures are measured on SQLite and on that database (a fresh backend each, both running,
taking turns at every repetition), and printed side by side. `--store postgresql:local` starts a
PostgreSQL for the run from the Debian package's binaries (`/usr/lib/postgresql/*/bin`, as the tests do: `tests/_postgres_fixture.py`,
initdb into a temp dir, a free loopback port, fsync off as SQLite's WAL with synchronous=NORMAL
skips the fsync at commit too; `synchronous_commit` stays on) and stops it by its PID at the end.

The anchor: Ray, measured in the same run when a Python with `ray` is found ($RAY_PYTHON, or
~/ray-venv/bin/python; create one with `python -m venv ~/ray-venv && ~/ray-venv/bin/pip install
ray`). Ray is never a dependency of this project; it runs in its own interpreter as a subprocess,
after a warm-up: its driver gathering N trivial tasks, a *parent task* that launches N children and
gathers them (the same shape as ours), and a chain of `--depth` nested remote calls. Ray runs tasks
in warm worker processes it reuses (like a reusable environment here), not one process per task.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _embedded_backend import embedded_backend  # noqa: E402 - beside this file, on the path just set

# The fan-outs run on a Ray started with the machine's CPUs (as the anchor always was). The chain
# runs on a Ray started with depth + 2 CPUs: every level is a task blocked in ray.get on the next,
# and although Ray lends a blocked task's CPU back, a level can start only on an idle worker; with
# CPUs for every level the warm-up leaves a worker per level, so the measured chains never wait for
# Ray to start a worker process (~1 s each here), which would measure Ray's start-up, not its calls.
RAY_SCRIPT = """
import json, os, time
import ray

def fanouts(sizes, repeat):
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, logging_level="ERROR", log_to_driver=False)

    @ray.remote
    def noop(x):
        return x + 1

    @ray.remote
    def parent(n):
        return sum(ray.get([noop.remote(i) for i in range(n)]))

    ray.get([noop.remote(i) for i in range(200)])  # warm up: start the workers
    ray.get(parent.remote(200))
    out = {{"driver": {{}}, "parent": {{}}}}
    for n in sizes:
        for kind, go in (("driver", lambda: sum(ray.get([noop.remote(i) for i in range(n)]))),
                         ("parent", lambda: ray.get(parent.remote(n)))):
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                assert go() == sum(range(1, n + 1))
                times.append(time.perf_counter() - t)
            out[kind][str(n)] = times
    ray.shutdown()
    return out

def chains(depth, repeat):
    ray.init(num_cpus=depth + 2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)

    @ray.remote
    def chain(n):
        return 0 if n <= 0 else 1 + ray.get(chain.remote(n - 1))

    for _ in range(2):  # warm up: a worker per level
        assert ray.get(chain.remote(depth)) == depth
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        assert ray.get(chain.remote(depth)) == depth
        times.append(time.perf_counter() - t)
    ray.shutdown()
    return times

out = fanouts({sizes}, {repeat})
out["chain"] = chains({depth}, {repeat})
print(json.dumps(out))
"""


def _ray_python() -> str | None:
    for candidate in (os.environ.get("RAY_PYTHON"), str(Path.home() / "ray-venv" / "bin" / "python")):
        if candidate and Path(candidate).exists():
            if subprocess.run([candidate, "-c", "import ray"], capture_output=True).returncode == 0:
                return candidate
    return None


def ray_figures(sizes: list[int], depth: int, repeat: int) -> dict[str, Any] | str:
    """Ray's wall times ({"driver": {n: [s]}, "parent": {n: [s]}, "chain": [s]}), or why not."""
    python = _ray_python()
    if python is None:
        return "not measured: no Python with ray (set RAY_PYTHON or create ~/ray-venv)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_JUPYTER_")}
    with tempfile.TemporaryDirectory(prefix="fj-ray-") as tmp:
        proc = subprocess.run([python, "-c", RAY_SCRIPT.format(sizes=sizes, depth=depth, repeat=repeat)],
                              capture_output=True, text=True, env=env, cwd=tmp, timeout=900)
    if proc.returncode != 0:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"driver": {int(k): v for k, v in out["driver"].items()},
            "parent": {int(k): v for k, v in out["parent"].items()}, "chain": out["chain"]}


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


@dataclasses.dataclass
class Figure:
    """Wall times of repeated runs of one piece of work of `units` actions (children, levels)."""

    times: list[float]
    units: int
    cpu_ms: float | None = None  # median CPU per unit of the backend's process tree

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def rate(self) -> float:
        return self.units / self.median

    @property
    def per_unit_ms(self) -> float:
        return self.median / self.units * 1000

    def as_rate(self) -> str:
        cpu = f", {self.cpu_ms:.1f} ms CPU/action" if self.cpu_ms is not None else ""
        return f"{self.rate:.0f}/s (best {self.units / min(self.times):.0f}{cpu})"

    def as_latency(self) -> str:
        cpu = f", {self.cpu_ms:.1f} ms CPU" if self.cpu_ms is not None else ""
        return f"{self.per_unit_ms:.1f} ms (best {min(self.times) / self.units * 1000:.1f}{cpu})"


@dataclasses.dataclass
class Target:
    """Where one column of figures is measured: `run` (a run context) after `select()` (which
    points the SDK at that column's backend), with `pid` the process tree whose CPU is counted."""

    run: Any
    pid: int | None = None
    select: Callable[[], None] = lambda: None


def measure(targets: list[Target], go: Callable[[Any], Any], expected: Any, units: int,
            repeat: int) -> list[Figure]:
    """`repeat` runs of `go(run)` on each target (each must return `expected`), with the CPU of
    the target's tree per unit. The targets take turns within each repetition, in an order that
    reverses every time (A B, B A, ...): what this machine costs drifts by 2x within a minute
    (ext4's file creation, which every attempt does, went from ~150 to ~700 us of system CPU
    between two runs here), so columns measured one after the other compare the drift, not
    the stores."""
    times: list[list[float]] = [[] for _ in targets]
    cpus: list[list[float]] = [[] for _ in targets]
    for i in range(repeat):
        order = list(enumerate(targets))
        for k, target in order if i % 2 == 0 else order[::-1]:
            target.select()
            cpu0 = _tree_cpu(target.pid) if target.pid else 0.0
            start = time.perf_counter()
            value = go(target.run)
            times[k].append(time.perf_counter() - start)
            assert value == expected, value
            if target.pid:
                cpus[k].append((_tree_cpu(target.pid) - cpu0) / units * 1000)
    return [Figure(t, units, statistics.median(c) if c else None) for t, c in zip(times, cpus)]


def _work(targets: list[Target], args: argparse.Namespace) -> list[dict[str, Figure]]:
    """Every figure of each target (remote on one store, or local), measured in turns: per target,
    name -> Figure."""
    import _fanout_tasks as tasks
    import remote_chain as chains  # the chain's tasks, as benchmarks/remote_chain.py runs them

    figures: list[dict[str, Figure]] = [{} for _ in targets]

    def record(name: str, measured: list[Figure]) -> None:
        for column, figure in zip(figures, measured):
            column[name] = figure

    def warm(go: Callable[[Any], Any], times: int = 1) -> None:
        for target in targets:
            target.select()
            for _ in range(times):
                go(target.run)

    warm(lambda run: run.run(tasks.noop, x=0).outputs())  # fork server, bundle upload, channel
    record("trivial", measure(targets, lambda run: run.run(tasks.noop, x=1).outputs(), 2, 1, args.repeat))
    for n in args.sizes:
        record(f"forked {n}", measure(targets, lambda run: run.run(tasks.fanout, n=n).outputs(),
                                      sum(range(1, n + 1)), n, args.fanout_repeat))
    warm(lambda run: run.run(tasks.fanout_warm, n=4).outputs())  # start the warm workers
    for n in args.sizes:
        record(f"reusable {n}", measure(targets, lambda run: run.run(tasks.fanout_warm, n=n).outputs(),
                                        sum(range(1, n + 1)), n, args.fanout_repeat))
    # a chain of `depth` nested calls after warm-ups (templates; a reusable pool reaches a worker
    # per level); per level: depth + 1 actions
    for kind, fn, warmups in (("forked", chains.chain, 1), ("reusable", chains.chain_warm, args.warmups)):
        warm(lambda run: run.run(fn, n=args.depth).outputs(), warmups)
        record(f"chain {kind}", measure(targets, lambda run: run.run(fn, n=args.depth).outputs(), args.depth,
                                        args.depth + 1, args.chain_repeat))
    return figures


def _remote(args: argparse.Namespace, stores: list[str | None]) -> tuple[list[dict[str, Figure]], dict[str, Any]]:
    """The remote figures on a fresh backend per state database in `stores` (None: SQLite), all
    running at once and measured in turns, and the first backend's status."""
    import asyncio

    import flyte_jupyter as flyte
    from flyte_jupyter._internal.client.grpc_client import BackendClient

    def flags(store_url: str | None) -> Callable[[Path], list[str]]:
        def extra(tmp: Path) -> list[str]:
            out = ["--max-parallelism", str(args.max_parallelism)] if args.max_parallelism else []
            if store_url:
                cfg = tmp / "backend.yaml"
                cfg.write_text(json.dumps({"store": {"url": store_url}}))  # JSON is YAML
                out += ["--config", str(cfg)]
            return out
        return extra

    with contextlib.ExitStack() as stack:
        infos = [stack.enter_context(embedded_backend("fj-bench-", flags(url))) for url in stores]
        linux = sys.platform.startswith("linux")
        targets = [Target(flyte.with_runcontext(mode="remote"), info.pid if linux else None,
                          functools.partial(flyte.init_from_config, str(info.client_yaml)))
                   for info in infos]
        figures = _work(targets, args)
        status = asyncio.run(BackendClient.from_file(str(infos[0].client_yaml)).status())
    return figures, status


def _filesystem_of(path: str) -> str:
    """The type of the filesystem holding `path` (ext4, tmpfs, ...): on these VMs a directory or file
    created on ext4 costs 10-40x its CPU on tmpfs, a third of a reusable action's cost."""
    best, kind, real = "", "an unknown filesystem", os.path.realpath(path)
    try:  # the longest mount point above it
        with open("/proc/mounts") as mounts:
            for line in mounts:
                fields = line.split()
                point = fields[1]
                if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
                    best, kind = point, fields[2]
    except OSError:
        pass
    return kind


def _goals(label: str, f: dict[str, Figure], ray: dict[str, Any] | str, n: int, depth: int) -> list[tuple[str, str, str]]:
    """(goal, what this run measured, met / not met) for each goal of issue 15 this benchmark covers."""
    rows: list[tuple[str, str, str]] = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    if isinstance(ray, dict):
        ray_chain = Figure(ray["chain"], depth + 1)
        for kind, bound in (("reusable", 1.0), ("forked", 2.0)):
            ratio = f[f"chain {kind}"].per_unit_ms / ray_chain.per_unit_ms
            rows.append((f"{label}: chain, {kind}, per level <= {bound:g}x Ray's",
                         f"{f[f'chain {kind}'].per_unit_ms:.1f} / {ray_chain.per_unit_ms:.1f} ms = {ratio:.1f}x",
                         verdict(ratio <= bound)))
        if n in ray["parent"]:
            ray_parent = Figure(ray["parent"][n], n)
            ratio = f[f"reusable {n}"].rate / ray_parent.rate
            rows.append((f"{label}: parent + {n} children, reusable >= 2x Ray's parent-task rate",
                         f"{f[f'reusable {n}'].rate:.0f} / {ray_parent.rate:.0f} per s = {ratio:.2f}x",
                         verdict(ratio >= 2.0)))
    rows.append((f"{label}: parent + {n} children, forked >= 700/s", f"{f[f'forked {n}'].rate:.0f}/s",
                 verdict(f[f"forked {n}"].rate >= 700)))
    rows.append((f"{label}: trivial run, submit to result <= 5 ms", f"{f['trivial'].per_unit_ms:.1f} ms",
                 verdict(f["trivial"].per_unit_ms <= 5.0)))
    return rows


LOCAL_POSTGRES = "postgresql:local"


def _local_postgres(stack: contextlib.ExitStack) -> str:
    """A fresh database on a PostgreSQL server started for this run (the tests' fixture), stopped
    by its PID when `stack` closes (and with this process, should it be killed)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from _postgres_fixture import PostgresServer

    server = stack.enter_context(PostgresServer())
    print(f"PostgreSQL from {server.bindir} on 127.0.0.1:{server.port} (pid {server.proc.pid}) for this run",
          file=sys.stderr)
    return server.new_database()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--depth", type=int, default=20, help="nested calls in the chain")
    parser.add_argument("--repeat", type=int, default=5, help="trivial runs (median, best)")
    parser.add_argument("--fanout-repeat", type=int, default=5, help="runs of each fan-out (median, best)")
    parser.add_argument("--chain-repeat", type=int, default=3, help="runs of each chain (median, best)")
    parser.add_argument("--warmups", type=int, default=5,
                        help="warm-up runs before the reusable chain is timed (Ray's chain is timed warm too)")
    parser.add_argument("--max-parallelism", type=int, default=None,
                        help="an explicit bound on running actions (default: admission by requests only)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray anchor")
    parser.add_argument("--store", default=None,
                        help="also measure on this state database (postgresql://...), beside SQLite; "
                             f"{LOCAL_POSTGRES}: on a PostgreSQL started for the run")
    args = parser.parse_args()
    n = max(args.sizes)
    ray = "skipped (--no-ray)" if args.no_ray else ray_figures(args.sizes, args.depth, 3)

    import flyte_jupyter as flyte

    with contextlib.ExitStack() as stack:
        store = _local_postgres(stack) if args.store == LOCAL_POSTGRES else args.store
        stores = [("SQLite", None)] + ([(store.split("://", 1)[0], store)] if store else [])
        columns, status = _remote(args, [url for _, url in stores])
        remote = [(label, f) for (label, _), f in zip(stores, columns)]
    local = _work([Target(flyte.with_runcontext(mode="local"))], args)[0]

    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; remote: every forked action its own process, admitted by requests "
          f"(capacity cpu {status['cpu_capacity']:g}"
          + (f", at most {status['max_parallelism']} at once" if status.get("max_parallelism") else "")
          + f"); the backends' data dirs on {_filesystem_of(tempfile.gettempdir())} (TMPDIR moves them); "
          "CPU = the backend and all its processes, per action or level")
    keys = [("trivial run, submit to result", "trivial", Figure.as_latency)]
    keys += [(f"parent + {size} children, {kind}", f"{kind} {size}", Figure.as_rate)
             for size in args.sizes for kind in ("forked", "reusable")]
    keys += [(f"chain of {args.depth}, {kind}, per level", f"chain {kind}", Figure.as_latency)
             for kind in ("forked", "reusable")]
    rows = [(name, [show(f[key]) for _, f in remote] + [show(local[key])]
             # the time of the work on the other store against SQLite's, in this run (the goal: <= 1.5x)
             + ([f"{remote[1][1][key].median / remote[0][1][key].median:.2f}x"] if len(remote) > 1 else []))
            for name, key, show in keys]
    heads = [f"remote, {label}" for label, _ in remote] + ["local mode"]
    heads += [f"{remote[1][0]} / SQLite (time)"] if len(remote) > 1 else []
    _table(["work", *heads], [[name, *cells] for name, cells in rows])

    if isinstance(ray, str):
        print(f"\nRay: {ray}")
    else:
        print("\nRay (its own venv, warm workers, median of 3):")
        ray_rows = []
        for size in args.sizes:
            ray_rows.append([f"driver gathers {size} tasks", Figure(ray["driver"][size], size).as_rate()])
            ray_rows.append([f"parent task + {size} children", Figure(ray["parent"][size], size).as_rate()])
        ray_rows.append([f"chain of {args.depth}, per level", Figure(ray["chain"], args.depth + 1).as_latency()])
        _table(["work", "Ray"], ray_rows)

    print("\ngoals (issue 15), ratios from this run:")
    goals = [goal for label, f in remote for goal in _goals(label, f, ray, n, args.depth)]
    _table(["goal", "measured", ""], [list(g) for g in goals])
    return 0


def _table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
