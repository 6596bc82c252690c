"""Trivial tasks for benchmarks/remote_fanout.py (a module, so actions import it from the bundle)."""

import asyncio

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="bench")


@env.task
def noop(x: int) -> int:
    return x + 1


@env.task
async def fanout(n: int) -> int:
    return sum(await asyncio.gather(*[noop.aio(i) for i in range(n)]))


warm = flyte.TaskEnvironment(name="bench_warm", reusable=flyte.ReusePolicy(replicas=2, idle_ttl=60))


@warm.task
def noop_warm(x: int) -> int:
    return x + 1


@env.task
async def fanout_warm(n: int) -> int:
    return sum(await asyncio.gather(*[noop_warm.aio(i) for i in range(n)]))
