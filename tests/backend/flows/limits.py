"""Tasks with resource requests: over a platform limit, and over their own memory limit."""

import time

import flyte_jupyter as flyte

big = flyte.TaskEnvironment(name="big", resources=flyte.Resources(memory="4Gi"))
small = flyte.TaskEnvironment(name="small", resources=flyte.Resources(memory="150Mi"))


@big.task
def wants_a_lot() -> int:
    return 1


@small.task
def hog(total_mb: int) -> int:
    chunks = []
    for _ in range(total_mb // 10):
        chunks.append(bytearray(10 * 1024 * 1024))
        time.sleep(0.01)
    time.sleep(2)
    return len(chunks)
