"""A fan-out whose child 13 fails unless RERUN_FIXED=1 is in its environment (the cause a rerun
fixes with an env var); every execution of a child leaves a marker file, so a test counts runs."""

import asyncio
import os
import time
from pathlib import Path

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="rerunnable")


@env.task
def square(i: int, factor: int, marker_dir: str) -> int:
    Path(marker_dir, f"square-{i}-{factor}-{os.getpid()}").write_text("ran")
    if i == 13 and os.environ.get("RERUN_FIXED") != "1":
        time.sleep(2.0)  # the siblings finish first (a parent whose child fails aborts the rest)
        raise RuntimeError("child 13 needs RERUN_FIXED=1")
    return i * i * factor


@env.task
async def fan(n: int, marker_dir: str, factor: int = 1) -> int:
    return sum(await asyncio.gather(*[square.aio(i, factor, marker_dir) for i in range(n)]))


@env.task
def hog(mb: int) -> int:
    """Allocate and touch `mb` MiB, burn a little CPU."""
    block = bytearray(mb * 1024 * 1024)
    for k in range(0, len(block), 4096):
        block[k] = 1
    total = 0
    for k in range(2_000_000):
        total += k
    return len(block) // (1024 * 1024)


@env.task(retries=flyte.RetryStrategy(count=1))
def flaky(marker_dir: str) -> int:
    marker = Path(marker_dir, "flaky-failed-once")
    if not marker.exists():
        marker.write_text("1")
        raise ValueError("the first attempt fails")
    return 7


@env.task
async def waits_on_flaky(marker_dir: str) -> int:
    return await flaky.aio(marker_dir) + await square.aio(2, 1, marker_dir)


@env.task
async def slow_fan(n: int, marker_dir: str) -> int:
    """`fan`, after a pause in which a test can kill the backend (a started file says when)."""
    Path(marker_dir, f"slow-fan-started-{os.getpid()}").write_text("1")
    time.sleep(float(os.environ.get("SLOW_FAN_PAUSE", "0")))
    return sum(await asyncio.gather(*[square.aio(i, 1, marker_dir) for i in range(n)]))


@env.task
async def top(n: int, marker_dir: str) -> int:
    """`fan` one level down: a rerun rooted at the fan recovers its succeeded children."""
    return await fan.aio(n, marker_dir) + 1
