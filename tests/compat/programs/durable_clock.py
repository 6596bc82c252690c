"""flyte.durable: sleep, time and now, sync and async forms, inside a task."""

import datetime
import time

import flyte
import flyte.durable

env = flyte.TaskEnvironment(name="durable_clock")


@env.task
async def napper(seconds: float) -> dict:
    before = time.time()
    await flyte.durable.sleep.aio(seconds)
    slept = time.time() - before
    t = await flyte.durable.time.aio()
    n = await flyte.durable.now.aio()
    return {"slept_enough": slept >= seconds * 0.9, "time_is_float": isinstance(t, float),
            "now_is_datetime": isinstance(n, datetime.datetime)}


@env.task
def sync_napper(seconds: float) -> bool:
    before = time.time()
    flyte.durable.sleep(seconds)
    return time.time() - before >= seconds * 0.9 and isinstance(flyte.durable.time(), float)


@env.task
async def main(seconds: float) -> dict:
    out = await napper(seconds)
    out["sync"] = await sync_napper.aio(seconds)
    return out


INPUTS = {"seconds": 0.3}
EXPECT = {"slept_enough": True, "time_is_float": True, "now_is_datetime": True, "sync": True}
