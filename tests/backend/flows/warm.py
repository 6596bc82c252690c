"""A reusable environment: its actions run in warm worker processes."""

import os
import time

import flyte_jupyter as flyte

warm = flyte.TaskEnvironment(name="warm", reusable=flyte.ReusePolicy(replicas=1, idle_ttl=60))
env = flyte.TaskEnvironment(name="warm_parent")


@warm.task
def whoami(i: int) -> int:
    print(f"action {i} in process {os.getpid()}")
    return os.getpid()


@warm.task(timeout=1)
def warm_sleeper(seconds: float) -> int:
    time.sleep(seconds)
    return 1


@env.task
async def one_by_one(n: int) -> list[int]:
    pids = []
    for i in range(n):
        pids.append(await whoami.aio(i))
    return pids


@warm.task
def where(i: int) -> list[str]:
    """Its working directory, what earlier actions left in it, and a file of its own there."""
    seen = sorted(os.listdir("."))
    with open(f"left-by-{i}.txt", "w") as fh:
        fh.write(str(i))
    return [os.getcwd(), str(os.getpid()), *seen]


@env.task
async def where_each(n: int) -> list[list[str]]:
    return [await where.aio(i) for i in range(n)]
