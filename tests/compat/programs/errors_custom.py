"""A task raises flyte.errors.CustomError with a code of its own; the parent sees that code."""

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="errors_custom")


@env.task
async def charge(amount: int) -> int:
    if amount > 100:
        raise flyte.errors.CustomError("QuotaExceeded", f"{amount} is over the quota of 100")
    return amount


@env.task
async def main(amount: int) -> str:
    try:
        await charge(amount)
    except flyte.errors.RuntimeUserError as e:
        return f"{e.code}: {'quota' in str(e)}"
    return "charged"


INPUTS = {"amount": 250}
EXPECT = "QuotaExceeded: True"
