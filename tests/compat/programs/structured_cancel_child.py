"""Cancelling the asyncio task that awaits a child aborts the child; the canceller sees CancelledError."""

import asyncio
import os
import tempfile

import flyte

env = flyte.TaskEnvironment(name="structured_cancel_child")


@env.task
async def sleeper(marker_dir: str, seconds: float) -> str:
    open(os.path.join(marker_dir, "started"), "w").close()
    await asyncio.sleep(seconds)
    open(os.path.join(marker_dir, "finished"), "w").close()
    return "slept"


@env.task
async def main(seconds: float) -> dict:
    marker_dir = tempfile.mkdtemp(prefix="cancel-")
    pending = asyncio.create_task(sleeper(marker_dir, seconds))
    for _ in range(300):
        if os.path.exists(os.path.join(marker_dir, "started")):
            break
        await asyncio.sleep(0.05)
    pending.cancel()
    try:
        await pending
        outcome = "not cancelled"
    except asyncio.CancelledError:
        outcome = "cancelled"
    await asyncio.sleep(seconds + 1.5)
    return {"outcome": outcome, "finished": os.path.exists(os.path.join(marker_dir, "finished"))}


INPUTS = {"seconds": 2.0}
EXPECT = {"outcome": "cancelled", "finished": False}
