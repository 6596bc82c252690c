"""Tasks that record when their code ran, with and without resource requests (admission tests)."""

import asyncio
import os
import time

import flyte_jupyter as flyte

plain = flyte.TaskEnvironment(name="adm_plain")
core = flyte.TaskEnvironment(name="adm_core", resources=flyte.Resources(cpu=1))
roomy = flyte.TaskEnvironment(name="adm_roomy", resources=flyte.Resources(memory="400Mi"))
huge = flyte.TaskEnvironment(name="adm_huge", resources=flyte.Resources(cpu=2))
# requests a quarter core, may use a whole one (a (request, limit) pair)
burst = flyte.TaskEnvironment(name="adm_burst", resources=flyte.Resources(cpu=("500m", "1")))
warm = flyte.TaskEnvironment(name="adm_warm", reusable=flyte.ReusePolicy(replicas=2, idle_ttl=30))


@plain.task
def sleeper(s: float) -> list[float]:
    """Requests nothing: admitted with the defaults. Returns when its code started and ended."""
    start = time.time()
    time.sleep(s)
    return [start, time.time()]


@core.task
def core_sleeper(s: float) -> list[float]:
    start = time.time()
    time.sleep(s)
    return [start, time.time()]


@roomy.task
def roomy_sleeper(s: float) -> list[float]:
    start = time.time()
    time.sleep(s)
    return [start, time.time()]


@core.task(retries=1)
def flaky_core_sleeper(s: float, marker_dir: str, first: bool) -> list[float]:
    """The first of them fails its first attempt at once: it is queued again, behind the others."""
    marker = os.path.join(marker_dir, "failed-once")
    if first and not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("the first attempt fails")
    start = time.time()
    time.sleep(s)
    return [start, time.time()]


@warm.task
def warm_sleeper(s: float) -> list[float]:
    start = time.time()
    time.sleep(s)
    return [start, time.time()]


@huge.task
def huge_sleeper(s: float) -> list[float]:
    start = time.time()
    time.sleep(s)
    return [start, time.time()]


@huge.task
def huge_task() -> int:
    return 1


@plain.task
async def fan(n: int, s: float) -> list[list[float]]:
    return list(await asyncio.gather(*[sleeper.aio(s) for _ in range(n)]))


@plain.task
async def fan_core(n: int, s: float) -> list[list[float]]:
    return list(await asyncio.gather(*[core_sleeper.aio(s) for _ in range(n)]))


@plain.task
async def fan_roomy(n: int, s: float) -> list[list[float]]:
    return list(await asyncio.gather(*[roomy_sleeper.aio(s) for _ in range(n)]))


@plain.task
async def fan_flaky_core(n: int, s: float, marker_dir: str) -> list[list[float]]:
    return list(await asyncio.gather(*[flaky_core_sleeper.aio(s, marker_dir, i == 0) for i in range(n)]))


@plain.task
async def fan_warm(n: int, s: float) -> list[list[float]]:
    return list(await asyncio.gather(*[warm_sleeper.aio(s) for _ in range(n)]))


@plain.task
async def mixed(s: float) -> list[list[float]]:
    """In this order: one core, the whole two cores, two small ones."""
    return list(await asyncio.gather(core_sleeper.aio(s), huge_sleeper.aio(0.2), sleeper.aio(0.5),
                                     sleeper.aio(0.5)))


@plain.task
async def calls_huge() -> int:
    return await huge_task.aio()


@burst.task
def burst_sleeper(s: float) -> list[float]:
    start = time.time()
    time.sleep(s)
    return [start, time.time()]


@plain.task
async def fan_burst(n: int, s: float) -> list[list[float]]:
    return list(await asyncio.gather(*[burst_sleeper.aio(s) for _ in range(n)]))
