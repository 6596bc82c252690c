"""Children that end while the backend is away (tests/backend/test_recovery.py): each notes its
start and end in `LOG_DIR/starts.log` (see `fan.note`), sleeps, then returns or fails on purpose."""

import asyncio
import time

import flyte_jupyter as flyte
from faults.flows.fan import note

env = flyte.TaskEnvironment(name="late")


def _work(i: int, seconds: float, log_dir: str, fail: bool) -> int:
    note(log_dir, "start", f"c{i}")
    time.sleep(seconds)
    note(log_dir, "end", f"c{i}")
    if fail:
        raise ValueError(f"child {i} failed on purpose")
    return i


@env.task
def late(i: int, seconds: float, log_dir: str, fail: bool = False) -> int:
    return _work(i, seconds, log_dir, fail)


@env.task(retries=2)
def late_r(i: int, seconds: float, log_dir: str, fail: bool = False) -> int:
    return _work(i, seconds, log_dir, fail)


@env.task
async def late_parent(n: int, seconds: float, log_dir: str, retries: bool = False, fail_index: int = -1) -> list[int]:
    note(log_dir, "start", "a0")
    child = late_r if retries else late
    return list(await asyncio.gather(*[child.aio(i, seconds, log_dir, i == fail_index) for i in range(n)]))
