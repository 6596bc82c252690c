"""A reusable environment whose async actions share a warm worker (`ReusePolicy.concurrency`)."""

import asyncio
import os
import time

import flyte_jupyter as flyte

shared = flyte.TaskEnvironment(name="shared", reusable=flyte.ReusePolicy(replicas=1, idle_ttl=60, concurrency=4))
env = flyte.TaskEnvironment(name="shared_parent")


@shared.task
async def span(i: int, seconds: float) -> list[float]:
    """(pid, start, end) of this action's body."""
    start = time.time()
    print(f"span {i} starts")
    await asyncio.sleep(seconds)
    print(f"span {i} ends")
    return [float(os.getpid()), start, time.time()]


@shared.task(timeout=1, retries=1)
async def stuck(i: int) -> int:
    await asyncio.sleep(60)
    return i


@shared.task(retries=2)
async def flaky(i: int) -> int:
    if flyte.ctx().attempt == 1:
        raise ValueError("the first attempt fails")
    return os.getpid()


@shared.task
def blocking(i: int, seconds: float) -> list[float]:
    start = time.time()
    time.sleep(seconds)
    return [float(os.getpid()), start, time.time()]


@env.task
async def overlap(n: int, seconds: float) -> list[list[float]]:
    return list(await asyncio.gather(*[span(i, seconds) for i in range(n)]))


@env.task
async def one_times_out(seconds: float) -> list[list[float]]:
    """A child that times out (and again on its retry) beside siblings that succeed."""
    outcome = await asyncio.gather(stuck(0), *[span(i, seconds) for i in range(3)], return_exceptions=True)
    assert isinstance(outcome[0], Exception), outcome[0]
    return [list(x) for x in outcome[1:]]


@env.task
async def one_aborted(seconds: float) -> list[list[float]]:
    """A child cancelled by its parent (aborted on the backend) beside siblings that succeed."""
    doomed = asyncio.ensure_future(span(99, 60))
    others = asyncio.ensure_future(asyncio.gather(*[span(i, seconds) for i in range(3)]))
    await asyncio.sleep(seconds / 2)
    doomed.cancel()
    return [list(x) for x in await others]


@env.task
async def one_retried(seconds: float) -> list[float]:
    pid, _ = await asyncio.gather(flaky(0), span(1, seconds))
    return [float(pid)]


@env.task
async def sync_ones(n: int, seconds: float) -> list[list[float]]:
    return list(await asyncio.gather(*[blocking.aio(i, seconds) for i in range(n)]))


@shared.task
async def scratch(i: int) -> str:
    """Writes a file by a relative path, as task code often does; returns where it landed."""
    with open(f"scratch-{i}.txt", "w") as f:
        f.write("x")
    await asyncio.sleep(0.3)
    return os.path.abspath(f"scratch-{i}.txt")


@env.task
async def scratch_files(n: int) -> list[str]:
    return list(await asyncio.gather(*[scratch(i) for i in range(n)]))
