"""From Flyte's docs on cancelling: one child fails, the parent catches it and cancels the rest."""

import asyncio

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="structured_gather_failure")


@env.task
async def sleepers(f: float, n: int) -> int:
    await asyncio.sleep(f)
    return n


@env.task
async def failing_task(f: float) -> int:
    raise ValueError("I will fail!")


@env.task
async def main(n: int, f: float) -> dict:
    sleeping_tasks = [asyncio.create_task(sleepers(f, i)) for i in range(n)]
    await asyncio.sleep(0.2)
    try:
        await failing_task(f)
        await asyncio.gather(*sleeping_tasks)
    except flyte.errors.RuntimeUserError as e:
        if e.code == "ValueError":
            for t in sleeping_tasks:
                t.cancel()
    results = await asyncio.gather(*sleeping_tasks, return_exceptions=True)
    return {"cancelled": sum(isinstance(r, asyncio.CancelledError) for r in results), "of": n}


INPUTS = {"n": 3, "f": 30.0}
EXPECT = {"cancelled": 3, "of": 3}
