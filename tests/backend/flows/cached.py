"""A cacheable task that leaves a mark each time it really executes."""

import os
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="cached")


@env.task(cache="auto")
def square(x: int, marker_dir: str) -> int:
    os.makedirs(marker_dir, exist_ok=True)
    with open(os.path.join(marker_dir, f"ran-{x}-{time.time_ns()}"), "w") as fh:
        fh.write("x")
    return x * x
