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
