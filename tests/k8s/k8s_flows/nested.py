"""A nested run for the Kubernetes executor: a parent, children, a grandchild and a flaky child."""

import asyncio
import os

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="k8snested")


@env.task
def grandchild(x: int) -> int:
    return x + 1000


@env.task
async def child(i: int) -> int:
    if i == 0:
        return await grandchild.aio(i)
    return i * i


@env.task(retries=flyte.RetryStrategy(count=2, backoff=0.2))
def flaky(marker_dir: str) -> str:
    marker = os.path.join(marker_dir, "failed-once")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails on purpose")
    return "recovered"


@env.task
async def parent(n: int, marker_dir: str) -> list:
    squares = await asyncio.gather(*[child(i) for i in range(n)])
    return [*squares, await flaky.aio(marker_dir)]


@env.task(resources=flyte.Resources(memory="200Mi"))
def hog() -> int:
    data = bytearray(500 << 20)
    data[::4096] = b"1" * len(data[::4096])
    return len(data)


@env.task
def sleeper(seconds: float) -> float:
    import time

    print("sleeping", flush=True)
    time.sleep(seconds)
    return seconds


@env.task
async def sleepy_parent(n: int, seconds: float) -> float:
    return sum(await asyncio.gather(*[sleeper.aio(seconds + i * 0.1) for i in range(n)]))


@env.task(timeout=1)
def too_slow() -> int:
    import time

    time.sleep(60)
    return 0



@env.task
def allocate(mb: int) -> int:
    """Touch `mb` MiB and burn a little CPU: its pod's attempt reports both."""
    data = bytearray(mb << 20)
    data[::4096] = b"1" * len(data[::4096])
    total = 0
    for k in range(3_000_000):
        total += k
    return len(data) >> 20
