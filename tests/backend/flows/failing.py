"""A child that always fails, retried with backoff, and its parent."""

import os

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="failing")


@env.task(retries=flyte.RetryStrategy(count=2, backoff=0.2))
def flaky(x: int, marker_dir: str) -> int:
    with open(os.path.join(marker_dir, f"attempt-{os.getpid()}"), "w") as fh:
        fh.write(str(x))
    raise ValueError(f"bad input {x}")


@env.task
async def parent_of_flaky(x: int, marker_dir: str) -> int:
    return await flaky.aio(x, marker_dir)


@env.task
def counted(x: int, marker_dir: str) -> int:
    with open(os.path.join(marker_dir, f"counted-{x}-{os.getpid()}"), "w") as fh:
        fh.write("ran")
    return x * 2


@env.task(retries=1)
async def retried_parent(marker_dir: str) -> int:
    first = await counted.aio(1, marker_dir)
    second = await counted.aio(2, marker_dir)
    if flyte.ctx().attempt == 1:
        raise RuntimeError("first attempt fails after its children succeeded")
    return first + second
