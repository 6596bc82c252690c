"""Dask tasks: the backend starts a cluster for each action; the task's Client() connects to it."""

import os
import time
from pathlib import Path

import flyte_jupyter as flyte
from flyte_jupyter.plugins.dask import Dask, WorkerGroup

env = flyte.TaskEnvironment(name="plugin_dask", plugin_config=Dask(workers=WorkerGroup(number_of_workers=2)))


@env.task
async def total(n: int) -> dict:
    from distributed import Client

    with Client() as client:
        workers = sorted(client.scheduler_info()["workers"])
        result = client.submit(sum, range(n)).result()
    return {"sum": result, "workers": len(workers), "address": os.environ["DASK_SCHEDULER_ADDRESS"]}


@env.task(retries=1)
async def long_on_first_attempt(marker: str) -> int:
    """Attempt 1 works on the cluster until a worker is killed under it; attempt 2 is quick."""
    from distributed import Client

    attempt = int(os.environ.get("FLYTE_JUPYTER_ATTEMPT", "1"))
    with Client() as client:
        if attempt == 1:
            Path(marker).write_text(str(os.getpid()))
            futures = [client.submit(time.sleep, 120, pure=False) for _ in range(2)]
            client.gather(futures)
        return attempt


@env.task
async def sleeper(marker: str) -> int:
    from distributed import Client

    with Client() as client:
        Path(marker).write_text(str(os.getpid()))
        client.submit(time.sleep, 120).result()
    return 0


@env.task
def sync_total(n: int) -> int:
    """A sync body: the plugin task's hooks run around it, in the action's own process."""
    from distributed import Client

    with Client() as client:
        return client.submit(sum, range(n)).result()


@env.task(timeout=4)
async def too_slow() -> int:
    from distributed import Client

    with Client() as client:
        client.submit(time.sleep, 120).result()
    return 0
