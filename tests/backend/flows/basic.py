"""A parent fanning out to children, one of which has a grandchild."""

import asyncio

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="basic")


@env.task
def grandchild(x: int) -> int:
    return x + 1000


@env.task
async def child(i: int) -> int:
    if i == 0:
        return await grandchild.aio(i)
    return i * i


@env.task
async def parent(n: int) -> list[int]:
    return list(await asyncio.gather(*[child(i) for i in range(n)]))


@env.task
def leaf(x: int) -> int:
    return x + 1


@env.task
async def fanout(n: int) -> int:
    return sum(await asyncio.gather(*[leaf.aio(i) for i in range(n)]))


@env.task
def talker(lines: int) -> str:
    import sys

    for i in range(lines):
        print(f"line {i} to stdout")
    print("a warning to stderr", file=sys.stderr)
    return "talked"


@env.task
def ticker(n: int, delay: float) -> int:
    import time

    for i in range(n):
        print(f"tick {i}", flush=True)
        time.sleep(delay)
    return n


@env.task
def sync_parent(n: int) -> int:
    direct = [leaf(i) for i in range(n)]
    mapped = list(flyte.map(leaf, range(n)))
    return sum(direct) + sum(mapped)
