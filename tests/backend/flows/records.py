"""Tasks whose logs, attempts and lifetimes the run-record tests look at."""

import asyncio
import os
import sys
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="records")
warm = flyte.TaskEnvironment(name="records_warm", reusable=flyte.ReusePolicy(replicas=1, idle_ttl=10))
core = flyte.TaskEnvironment(name="records_core", resources=flyte.Resources(cpu=1))


@env.task
def progress(steps: int, delay: float) -> str:
    """A tqdm-like bar on stderr: redrawn in place with `\\r`, its line ended only at the end."""
    for i in range(steps + 1):
        sys.stderr.write(f"\r{i}/{steps} |{'#' * i}{' ' * (steps - i)}|")
        sys.stderr.flush()
        time.sleep(delay)
    sys.stderr.write("\n")
    print("bar done")
    return "ok"


def _interleave(n: int) -> int:
    for i in range(n):
        print(f"out {i}")
        sys.stderr.write(f"err {i}\n")
    return n


@env.task
def interleave(n: int) -> int:
    """stdout and stderr in turns (print, and a warning as `logging` writes it)."""
    return _interleave(n)


@warm.task
def interleave_warm(n: int) -> int:
    """The same in a reusable worker (its streams go back to the worker's after each action)."""
    return _interleave(n)


@env.task(retries=flyte.RetryStrategy(count=2, backoff=0.2))
def third_time(marker_dir: str) -> str:
    tries = len(os.listdir(marker_dir)) + 1
    open(os.path.join(marker_dir, f"try-{tries}"), "w").close()
    print(f"try {tries}")
    if tries < 3:
        raise ValueError(f"not yet ({tries})")
    return "made it"


@env.task
def nap(s: float) -> float:
    time.sleep(s)
    return s


@core.task
def core_nap(s: float) -> float:
    time.sleep(s)
    return s


@env.task
async def waits_on_naps(n: int, s: float) -> float:
    """`n` children of one core each: more than the cores wait in the queue."""
    return sum(await asyncio.gather(*[core_nap.aio(s) for _ in range(n)]))
