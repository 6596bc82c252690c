"""An attempt's CPU seconds and peak memory as measured by the attempt itself, for executors that
cannot see its process (Kubernetes: the pod runs elsewhere). With `FLYTE_JUPYTER_REPORT_USAGE=1`
in its environment the entrypoint writes `usage.json` beside `outputs.pb` as it ends; the
executor's plugin reads it when the pod has ended. (The local executor measures the process
itself when it reaps it, so it sets no such variable.)

CPU is user + system time of the entrypoint and the children it waited for (`getrusage`). Peak
memory is the larger of the process's own peak resident size and, inside a container (its own
cgroup namespace, `0::/`), the container's `memory.peak` (cgroup v2), which counts everything the
pod's container ran.
"""

from __future__ import annotations

import json
import os
from typing import Any

REPORT_ENV = "FLYTE_JUPYTER_REPORT_USAGE"
FILE = "usage.json"
_CGROUP_PEAK = "/sys/fs/cgroup/memory.peak"


def measure() -> dict[str, Any]:
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    peak = max(me.ru_maxrss, kids.ru_maxrss) * 1024  # KiB on Linux
    container = _container_peak()
    return {"cpu_seconds": round(cpu, 6), "peak_memory_bytes": max(peak, container or 0)}


def _container_peak() -> int | None:
    try:
        with open("/proc/self/cgroup", encoding="ascii") as f:
            if f.read().strip() != "0::/":
                return None  # not the root of its own cgroup namespace: not a container's figure
        with open(_CGROUP_PEAK, encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def report(outputs_path: str) -> None:
    """Write `usage.json` under `outputs_path` when the executor asked for it (never raises)."""
    if os.environ.get(REPORT_ENV) != "1":
        return
    try:
        from flyte_jupyter._internal.runtime import storage

        storage.put_bytes(storage.join(outputs_path, FILE), json.dumps(measure()).encode())
    except Exception:  # noqa: BLE001 - the figures are a nicety: the attempt's result stands
        pass


def read(outputs_path: str) -> tuple[float | None, int | None]:
    """(CPU seconds, peak memory bytes) an attempt reported, or (None, None)."""
    try:
        from flyte_jupyter._internal.runtime import storage

        data = json.loads(storage.get_bytes(storage.join(outputs_path, FILE)))
        cpu, peak = data.get("cpu_seconds"), data.get("peak_memory_bytes")
        return (float(cpu) if isinstance(cpu, (int, float)) and cpu >= 0 else None,
                int(peak) if isinstance(peak, int) and peak >= 0 else None)
    except Exception:  # noqa: BLE001 - absent (OOM-killed, an old entrypoint) or damaged: unknown
        return None, None


__all__ = ["FILE", "REPORT_ENV", "measure", "read", "report"]
