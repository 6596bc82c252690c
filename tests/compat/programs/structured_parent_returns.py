"""Structured concurrency: when a parent returns, the children it started and never awaited are
aborted (Flyte's action lifetime), so they do not run on after it."""

import asyncio
import os
import tempfile

import flyte

env = flyte.TaskEnvironment(name="structured_parent_returns")


@env.task
async def sleeper(marker_dir: str, seconds: float) -> str:
    open(os.path.join(marker_dir, "started"), "w").close()
    await asyncio.sleep(seconds)
    open(os.path.join(marker_dir, "finished"), "w").close()
    return "slept"


@env.task
async def spawner(marker_dir: str, seconds: float) -> str:
    asyncio.create_task(sleeper(marker_dir, seconds))  # never awaited
    for _ in range(300):  # until the child runs
        if os.path.exists(os.path.join(marker_dir, "started")):
            break
        await asyncio.sleep(0.05)
    return "spawner done"


@env.task
async def main(seconds: float) -> dict:
    marker_dir = tempfile.mkdtemp(prefix="structured-")
    result = await spawner(marker_dir, seconds)
    await asyncio.sleep(seconds + 1.5)  # past the time the sleeper would have finished
    return {"spawner": result, "started": os.path.exists(os.path.join(marker_dir, "started")),
            "finished": os.path.exists(os.path.join(marker_dir, "finished"))}


INPUTS = {"seconds": 2.0}
EXPECT = {"spawner": "spawner done", "started": True, "finished": False}
DIFFERS_FROM_FLYTE_LOCAL = "Flyte's local mode lets a child run on after its parent returns"
