"""A failure nobody handles fails the run: flyte.run raises flyte.errors.RuntimeUserError."""

import flyte

env = flyte.TaskEnvironment(name="errors_uncaught")


@env.task
async def lookup(key: str) -> int:
    table = {"a": 1}
    return table[key]


@env.task
async def main(key: str) -> int:
    return await lookup(key)


INPUTS = {"key": "missing"}
EXPECT_ERROR = "RuntimeUserError"
