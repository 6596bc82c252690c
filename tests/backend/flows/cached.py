"""A cacheable task that leaves a mark each time it really executes."""

import os
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="cached")


@env.task(cache="auto")
def square(x: int, marker_dir: str) -> int:
    os.makedirs(marker_dir, exist_ok=True)
    with open(os.path.join(marker_dir, f"ran-{x}-{time.time_ns()}"), "w") as fh:
        fh.write("x")
    return x * x


@env.task(cache=flyte.Cache("auto", serialize=True))
def slow_square(x: int, marker_dir: str) -> int:
    os.makedirs(marker_dir, exist_ok=True)
    with open(os.path.join(marker_dir, f"slow-{x}-{time.time_ns()}"), "w") as fh:
        fh.write("x")
    time.sleep(1)
    return x * x


@env.task
async def three_at_once(x: int, marker_dir: str) -> list[int]:
    import asyncio

    return list(await asyncio.gather(*[slow_square.aio(x, marker_dir) for _ in range(3)]))
