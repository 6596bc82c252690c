"""Tasks that sleep: for timeouts, aborts and crash recovery."""

import asyncio
import os
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="slow")


def _note(directory: str, prefix: str) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"{prefix}-{os.getpid()}"), "w") as fh:
        fh.write(str(time.time()))


@env.task(timeout=1)
def too_slow(seconds: float, pid_dir: str) -> str:
    _note(pid_dir, "pid")
    time.sleep(seconds)
    return "finished"


@env.task
def sleeper(i: int, seconds: float, pid_dir: str) -> int:
    _note(pid_dir, f"child{i}")
    time.sleep(seconds)
    return i


@env.task
async def sleepy_parent(n: int, seconds: float, pid_dir: str) -> list[int]:
    _note(pid_dir, "parent")
    return list(await asyncio.gather(*[sleeper.aio(i, seconds, pid_dir) for i in range(n)]))


@env.task(retries=1)
def steady(i: int, seconds: float, pid_dir: str) -> int:
    _note(pid_dir, f"steady{i}")
    time.sleep(seconds)
    return i * 10


@env.task(retries=1)
async def waves(waves: int, width: int, seconds: float, pid_dir: str) -> int:
    """Several waves of children, so a crash lands while some are queued and some run."""
    total = 0
    for w in range(waves):
        got = await asyncio.gather(*[steady.aio(w * width + i, seconds, pid_dir) for i in range(width)])
        total += sum(got)
    return total


@env.task(timeout=flyte.Timeout(max_runtime=30, max_queued_time=0.5))
def impatient() -> str:
    return "ran"


@env.task(timeout=1, retries=1)
def too_slow_twice(seconds: float, pid_dir: str) -> str:
    _note(pid_dir, "twice")
    time.sleep(seconds)
    return "finished"
