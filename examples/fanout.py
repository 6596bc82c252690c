"""Fan-out with flyte.map, retries and a group: a small pipeline shape.

    python examples/fanout.py
"""

import random

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="fanout")


@env.task(retries=flyte.RetryStrategy(count=3, backoff=0.1))
def measure(seed: int) -> float:
    rng = random.Random(seed)
    if rng.random() < 0.1:
        raise ConnectionError(f"flaky sensor {seed}")  # retried with backoff
    return rng.random()


@env.task
def summarize(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "mean": sum(values) / len(values), "max": max(values)}


@env.task
def pipeline(n: int = 20) -> dict[str, float]:
    with flyte.group("measure"):
        values = [v for v in flyte.map(measure, range(n)) if isinstance(v, float)]
    return summarize(values)


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(pipeline, n=20)
    print(run.tree_text())
    print(run.outputs())
