"""NonRecoverableError fails at once whatever the retry policy says; the parent sees its code."""

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="errors_nonrecoverable")


@env.task(retries=3)
async def validate(value: int) -> int:
    if value < 0:
        raise flyte.errors.NonRecoverableError(f"{value} is negative: retrying will not help")
    return value


@env.task
async def main(value: int) -> str:
    try:
        await validate(value)
    except flyte.errors.RuntimeUserError as e:
        return e.code
    return "valid"


INPUTS = {"value": -5}
EXPECT = "NonRecoverableError"
