"""A child past its Timeout(max_runtime=...) raises flyte.errors.TaskTimeoutError in the parent."""

import asyncio
from datetime import timedelta

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="errors_timeout")


@env.task(timeout=flyte.Timeout(max_runtime=timedelta(seconds=1)))
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "finished"


@env.task
async def main(seconds: float) -> str:
    try:
        return await slow(seconds)
    except flyte.errors.TaskTimeoutError as e:
        return f"timed out: {isinstance(e, flyte.errors.RuntimeUserError)}"


INPUTS = {"seconds": 30.0}
EXPECT = "timed out: True"
DIFFERS_FROM_FLYTE_LOCAL = "Flyte's local mode does not enforce timeouts: the child finishes"
