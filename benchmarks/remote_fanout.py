"""Submit-to-result latency and fan-out wall time through a real backend, beside local mode.

    python benchmarks/remote_fanout.py [--sizes 100 1000] [--repeat 5] [--max-parallelism N]

Starts its own backend (a temporary data dir, a free loopback port), runs:
  - a trivial one-action run, `--repeat` times: submit-to-result latency (median, best);
  - a parent fanning out to N trivial children, for each N in --sizes;
and the same work in local mode, then prints one table. Every remote action is its own process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


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
    args = parser.parse_args()

    import flyte_jupyter as flyte
    from flyte_jupyter._remote import _embedded

    import _fanout_tasks as tasks

    with tempfile.TemporaryDirectory(prefix="fj-bench-") as tmp:
        os.environ["FLYTE_JUPYTER_DATA_DIR"] = tmp
        extra = ["--max-parallelism", str(args.max_parallelism)] if args.max_parallelism else []
        info = _embedded.start_backend(Path(tmp) / "backend", port=0, extra_args=extra)
        rows: list[tuple[str, str, str]] = []
        try:
            flyte.init_from_config(str(info.client_yaml))
            remote = flyte.with_runcontext(mode="remote")
            local = flyte.with_runcontext(mode="local")
            remote.run(tasks.noop, x=0).outputs()  # warm up: fork server, bundle upload, channel

            lat = []
            for i in range(args.repeat):
                t, value = _timed(lambda: remote.run(tasks.noop, x=i).outputs())
                assert value == i + 1
                lat.append(t)
            lat_local = [_timed(lambda: local.run(tasks.noop, x=1).outputs())[0] for _ in range(args.repeat)]
            rows.append(("trivial run, submit to result",
                         f"{statistics.median(lat) * 1000:.0f} ms (best {min(lat) * 1000:.0f})",
                         f"{statistics.median(lat_local) * 1000:.1f} ms"))
            for n in args.sizes:
                expected = sum(range(1, n + 1))
                t_remote, value = _timed(lambda: remote.run(tasks.fanout, n=n).outputs())
                assert value == expected, value
                t_local, value = _timed(lambda: local.run(tasks.fanout, n=n).outputs())
                assert value == expected, value
                rows.append((f"parent + {n} children", f"{t_remote:.2f} s ({n / t_remote:.0f} actions/s)",
                             f"{t_local:.2f} s ({n / t_local:.0f} actions/s)"))
            remote.run(tasks.fanout_warm, n=4).outputs()  # start the warm workers
            for n in args.sizes:
                expected = sum(range(1, n + 1))
                t_remote, value = _timed(lambda: remote.run(tasks.fanout_warm, n=n).outputs())
                assert value == expected, value
                t_local, value = _timed(lambda: local.run(tasks.fanout_warm, n=n).outputs())
                assert value == expected, value
                rows.append((f"parent + {n} children, reusable env", f"{t_remote:.2f} s ({n / t_remote:.0f} actions/s)",
                             f"{t_local:.2f} s ({n / t_local:.0f} actions/s)"))
            status = __import__("asyncio").run(flyte_jupyter_client(info.client_yaml).status())
        finally:
            _embedded.stop_backend(Path(tmp) / "backend")
            flyte.init()

    print(f"\nremote: every action its own process (fork server), backend parallelism {status['max_parallelism']}, "
          f"{os.cpu_count()} cores")
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  {'remote':<32}  local")
    for name, r, l in rows:
        print(f"{name:<{width}}  {r:<32}  {l}")
    return 0


def flyte_jupyter_client(path):  # type: ignore[no-untyped-def]
    from flyte_jupyter._remote._client import BackendClient

    return BackendClient.from_file(path)


if __name__ == "__main__":
    sys.exit(main())
