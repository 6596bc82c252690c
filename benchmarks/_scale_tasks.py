"""Trivial tasks for benchmarks/scale_10k.py beside `_fanout_tasks` (a module, so actions import it
from the bundle): a reusable environment whose warm workers run 8 async actions at once."""

import asyncio

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="scale")
shared = flyte.TaskEnvironment(name="scale_shared", reusable=flyte.ReusePolicy(replicas=2, idle_ttl=60, concurrency=8))


@shared.task
async def noop_shared(x: int) -> int:
    return x + 1


@env.task
async def fanout_shared(n: int) -> int:
    return sum(await asyncio.gather(*[noop_shared(i) for i in range(n)]))
