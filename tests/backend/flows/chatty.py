"""Actions that print: a parent, its children, and a child whose first attempt fails (run logs)."""

import asyncio
import os
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="chatty")


@env.task
def chatty_child(i: int, lines: int, delay: float) -> int:
    for k in range(lines):
        print(f"c{i} line {k}", flush=True)
        time.sleep(delay)
    return i


@env.task(retries=flyte.RetryStrategy(count=1, backoff=0.1))
def twice(marker_dir: str) -> int:
    first = not os.path.exists(os.path.join(marker_dir, "tried"))
    print(f"twice {'first' if first else 'second'}", flush=True)
    if first:
        open(os.path.join(marker_dir, "tried"), "w").close()
        raise RuntimeError("the first attempt fails")
    return 1


@env.task
async def chatty_parent(n: int, lines: int, delay: float, marker_dir: str) -> int:
    print("parent start", flush=True)
    got = await asyncio.gather(*[chatty_child.aio(i, lines, delay) for i in range(n)], twice.aio(marker_dir))
    print("parent end", flush=True)
    return sum(got)
