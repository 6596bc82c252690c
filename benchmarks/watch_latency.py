"""How late a phase change reaches a watching client while a run's 1000 children run.

    python benchmarks/watch_latency.py [--children 1000] [--repeat 3] [--warm]

Starts its own backend (a temporary data dir, a free loopback port), starts `fanout(children)` (a
parent gathering that many trivial children, each its own forked process; `--warm`: children in a
reusable environment) and watches the run from this process with the SDK's Watch client
(`BackendClient.watch_raw`, what informers, the widget's model and the panel's websocket are fed
by). Each change that arrives after the watch synced is timed against the moment the backend made
it, read afterwards from the run's records: QUEUED at the action's `queued_at`, RUNNING at its
attempt's `running_at`, a final phase at `ended_at` (all on this machine's clock). Prints the
count, median, 95th percentile and worst latency per kind of change and overall, against the goal
of issue 15 (95th percentile at most 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _embedded_backend import embedded_backend  # noqa: E402

import flyte_jupyter as flyte  # noqa: E402

GOAL_P95_MS = 50.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class _Watcher:
    """Watches one run on a loop of its own (a thread) and notes when each change arrived."""

    def __init__(self, client_yaml: str, run: str) -> None:
        self.client_yaml, self.run = client_yaml, run
        self.arrivals: list[tuple[str, int, int, float]] = []  # (action, phase, attempt, arrival)
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)
        self._thread.start()

    async def _watch(self) -> None:
        from flyte_jupyter._internal.client.grpc_client import BackendClient

        client = BackendClient.from_file(self.client_yaml)
        live = False
        try:
            async for batch in client.watch_raw(self.run):
                now = time.time()
                if live:
                    self.arrivals.extend((a.id.name, a.phase, a.attempt, now) for a in batch.actions)
                if batch.synced:
                    live = True
                    self.synced.set()
                if self._stop.is_set():
                    return
        finally:
            await client.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _latencies(arrivals: list[tuple[str, int, int, float]], actions: list) -> dict[str, list[float]]:
    """Milliseconds from each change to its arrival, by kind of change."""
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb

    terminal = {pb.PHASE_SUCCEEDED, pb.PHASE_FAILED, pb.PHASE_ABORTED, pb.PHASE_TIMED_OUT}
    by_name = {a.id.name: a for a in actions}
    out: dict[str, list[float]] = {"QUEUED": [], "RUNNING": [], "final": []}
    for name, phase, attempt, arrival in arrivals:
        action = by_name.get(name)
        if action is None:
            continue
        if phase == pb.PHASE_QUEUED and attempt == 0:
            kind, made = "QUEUED", action.queued_at
        elif phase == pb.PHASE_RUNNING:
            usage = [u for u in action.usage if u.attempt == attempt]
            kind, made = "RUNNING", usage[0].running_at if usage else 0.0
        elif phase in terminal:
            kind, made = "final", action.ended_at
        else:
            continue
        if made:
            out[kind].append((arrival - made) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warm", action="store_true", help="children in a reusable environment")
    args = parser.parse_args()

    import _fanout_tasks as tasks  # a module, not __main__: actions import it from the bundle

    from flyte_jupyter._internal.client.grpc_client import BackendClient
    from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb

    fn = tasks.fanout_warm if args.warm else tasks.fanout
    p95s: list[float] = []
    rows: list[str] = []
    with embedded_backend("fj-watch-") as info:
        remote = flyte.with_runcontext(mode="remote")
        assert remote.run(fn, n=20).outputs() == sum(range(1, 21))  # warm-up (fork server, templates)
        for i in range(args.repeat):
            run = remote.run(fn, n=args.children)
            watcher = _Watcher(str(info.client_yaml), run.name)
            watcher.synced.wait(30)
            assert run.outputs() == sum(range(1, args.children + 1))
            time.sleep(0.5)  # the last changes reach the watcher
            watcher.stop()

            async def actions(name: str = run.name) -> list:
                client = BackendClient.from_file(str(info.client_yaml))
                try:
                    resp = await client._call("run", "GetRun", run_pb.GetRunRequest(id=client._aid(name, "")))
                    return list(resp.actions)
                finally:
                    await client.close()

            lat = _latencies(watcher.arrivals, asyncio.run(actions()))
            every = [v for values in lat.values() for v in values]
            if not every:
                rows.append(f"run {i + 1}: no changes arrived after the watch synced")
                continue
            p95s.append(_percentile(every, 0.95))
            parts = [f"{kind} n={len(v)} p50 {statistics.median(v):.1f} p95 {_percentile(v, 0.95):.1f} "
                     f"max {max(v):.1f}" for kind, v in lat.items() if v]
            rows.append(f"run {i + 1}: all n={len(every)} p50 {statistics.median(every):.1f} "
                        f"p95 {p95s[-1]:.1f} max {max(every):.1f} ms | " + " | ".join(parts))
    kind = "reusable" if args.warm else "forked"
    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.children} {kind} children")
    for row in rows:
        print(row)
    if p95s:
        median = statistics.median(p95s)
        verdict = "met" if median <= GOAL_P95_MS else "NOT met"
        print(f"watch latency p95, median of {len(p95s)}: {median:.1f} ms (goal <= {GOAL_P95_MS:.0f} ms: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
