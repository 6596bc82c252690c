"""Flyte 2's declarations at the top level: Backoff, RetryStrategy, PodTemplate, Timeout with only
max_queued_time, @env.task(entrypoint=True), TaskTemplate.forward, flyte.logger."""

import os
import tempfile
from datetime import timedelta

import flyte

env = flyte.TaskEnvironment(
    name="policies_and_names",
    pod_template=flyte.PodTemplate(primary_container_name="primary", labels={"team": "ml"},
                                   annotations={"owner": "compat"}),
)


@env.task(retries=flyte.RetryStrategy(count=2, backoff=flyte.Backoff(base=timedelta(milliseconds=50), factor=2.0,
                                                                     cap=timedelta(milliseconds=200))))
async def flaky(marker_dir: str) -> int:
    attempts = len(os.listdir(marker_dir)) + 1
    open(os.path.join(marker_dir, f"attempt-{attempts}"), "w").close()
    if attempts < 3:
        raise ConnectionError(f"attempt {attempts} fails")
    return attempts


@env.task(timeout=flyte.Timeout(max_queued_time=timedelta(minutes=5)))
async def queued_bound(x: int) -> int:
    return x + 1


@env.task
async def plain(x: int) -> int:
    return x * 10


@env.task(entrypoint=True)
async def main(x: int) -> dict:
    flyte.logger.info("main starts with %s", x)
    marker_dir = tempfile.mkdtemp(prefix="flaky-")
    return {
        "flaky_attempts": await flaky(marker_dir),
        "queued_bound": await queued_bound(x),
        "forward": await plain.forward(x),  # the body itself: no action
        "delay_1": flyte.Backoff(base=timedelta(seconds=1), factor=2.0, cap=timedelta(seconds=3)).compute_delay(1)
        .total_seconds(),
    }


INPUTS = {"x": 4}
EXPECT = {"flaky_attempts": 3, "queued_bound": 5, "forward": 40, "delay_1": 2.0}
