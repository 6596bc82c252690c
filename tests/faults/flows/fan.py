"""A parent fanning out to many small children, for the fault matrix.

Every task body appends `start NAME PID ATTEMPT TIME` to `LOG_DIR/starts.log` when it begins and
`end NAME PID ATTEMPT TIME` when its work is done (one small O_APPEND write each: lines from many
processes never interleave), so the matrix counts how often each action's body ran.
Children: `leaf` (a forked process each) and `warm_leaf` (reusable workers), each with and without
retries; the parent `fan` likewise. A child whose `LOG_DIR/hold-NAME` exists does not end its work
until that file is gone: the matrix holds one child so that its run outlives every fault it injects.
"""

import asyncio
import os
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="faults")
warm = flyte.TaskEnvironment(name="faults_warm", reusable=flyte.ReusePolicy(replicas=2, idle_ttl=60))

RETRIES = 3


def note(log_dir: str, what: str, name: str) -> None:
    context = flyte.ctx()
    attempt = context.attempt if context is not None else 0
    line = f"{what} {name} {os.getpid()} {attempt} {time.time():.3f}\n".encode()
    fd = os.open(os.path.join(log_dir, "starts.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _work(i: int, seconds: float, log_dir: str) -> int:
    note(log_dir, "start", f"c{i}")
    time.sleep(seconds)
    while os.path.exists(os.path.join(log_dir, f"hold-c{i}")):
        time.sleep(0.05)
    note(log_dir, "end", f"c{i}")
    return i * i


@env.task
def leaf(i: int, seconds: float, log_dir: str) -> int:
    return _work(i, seconds, log_dir)


@env.task(retries=RETRIES)
def leaf_r(i: int, seconds: float, log_dir: str) -> int:
    return _work(i, seconds, log_dir)


@warm.task
def warm_leaf(i: int, seconds: float, log_dir: str) -> int:
    return _work(i, seconds, log_dir)


@warm.task(retries=RETRIES)
def warm_leaf_r(i: int, seconds: float, log_dir: str) -> int:
    return _work(i, seconds, log_dir)


CHILDREN = {"plain": leaf, "plain_r": leaf_r, "warm": warm_leaf, "warm_r": warm_leaf_r}


async def _fan(seconds: list[float], log_dir: str, kind: str) -> list[int]:
    note(log_dir, "start", "a0")
    child = CHILDREN[kind]
    out = await asyncio.gather(*[child.aio(i, s, log_dir) for i, s in enumerate(seconds)])
    note(log_dir, "end", "a0")
    return list(out)


@env.task
async def fan(seconds: list[float], log_dir: str, kind: str) -> list[int]:
    return await _fan(seconds, log_dir, kind)


@env.task(retries=RETRIES)
async def fan_r(seconds: list[float], log_dir: str, kind: str) -> list[int]:
    return await _fan(seconds, log_dir, kind)
