"""Per-level time of a chain of nested calls through a real backend (each level awaits the next).

    python benchmarks/remote_chain.py [--depth 20] [--repeat 3] [--kinds forked reusable]

Starts its own backend (a temporary data dir, a free loopback port) and runs `chain(depth)`, where
each level calls `chain(n - 1)` and waits for it: one action per level, each its own process
(forked) or, for `reusable`, a warm worker per level (replicas = depth + 1, started by --warmups runs).
Prints the median and best per-level time and the CPU per level of the backend and its processes.
Ray's figure (3.1-3.4 ms per level on this 2-core machine, from issue 15) is printed as the anchor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _embedded_backend import embedded_backend  # noqa: E402

import flyte_jupyter as flyte  # noqa: E402

env = flyte.TaskEnvironment(name="bench_chain")
warm = flyte.TaskEnvironment(name="bench_chain_warm", reusable=flyte.ReusePolicy(replicas=22, idle_ttl=120))

RAY_PER_LEVEL_MS = (3.1, 3.4)


@env.task
async def chain(n: int) -> int:
    return 0 if n <= 0 else 1 + await chain.aio(n - 1)


@warm.task
async def chain_warm(n: int) -> int:
    return 0 if n <= 0 else 1 + await chain_warm.aio(n - 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", nargs="+", choices=["forked", "reusable"], default=["forked", "reusable"])
    parser.add_argument("--warmups", type=int, default=5, help="warm-up runs before a reusable chain is timed")
    args = parser.parse_args()

    import remote_chain as tasks  # the module, not __main__: actions import it from the bundle
    from remote_fanout import _tree_cpu

    rows = []
    with embedded_backend("fj-chain-") as info:
        remote = flyte.with_runcontext(mode="remote")
        pid = info.pid if sys.platform.startswith("linux") else None
        for kind in args.kinds:
            fn = tasks.chain if kind == "forked" else tasks.chain_warm
            # Warm-up: the fork server's templates; for `reusable`, the pool. A level that
            # finds no idle worker is forked while the pool grows by one, and workers started
            # in one run serve deeper levels of it, so the pool reaches a worker per level
            # only after a few runs (each level holds its worker while it awaits the next).
            for _ in range(1 if kind == "forked" else args.warmups):
                assert remote.run(fn, n=args.depth).outputs() == args.depth
            times, cpus = [], []
            for _ in range(args.repeat):
                cpu0 = _tree_cpu(pid) if pid else 0.0
                t = time.perf_counter()
                assert remote.run(fn, n=args.depth).outputs() == args.depth
                times.append((time.perf_counter() - t) / (args.depth + 1) * 1000)
                if pid:
                    cpus.append((_tree_cpu(pid) - cpu0) / (args.depth + 1) * 1000)
            cpu = f", {statistics.median(cpus):.1f} ms CPU/level" if cpus else ""
            rows.append((f"chain of {args.depth}, {kind}",
                         f"{statistics.median(times):.1f} ms/level (best {min(times):.1f}{cpu})"))
    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for name, value in rows:
        print(f"{name:<28} {value}")
    lo, hi = RAY_PER_LEVEL_MS
    print(f"{'anchor, Ray (issue 15)':<28} {lo}-{hi} ms/level (not measured here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
