"""A run that waits for a go file before it fans out, printing as it goes: two watches attached
while it waits see the same changes from then on (forwarding between replicas)."""

import asyncio
import os
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="gated")


@env.task
def step(i: int, seconds: float) -> int:
    time.sleep(seconds)
    return i


@env.task
async def gated_fan(n: int, seconds: float, go_file: str) -> list[int]:
    i = 0
    while not os.path.exists(go_file):
        print(f"waiting {i}", flush=True)
        i += 1
        await asyncio.sleep(0.05)
    for j in range(5):
        print(f"going {j}", flush=True)
    return list(await asyncio.gather(*[step.aio(k, seconds) for k in range(n)]))
