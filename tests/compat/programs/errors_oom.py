"""A task that runs out of memory (MemoryError) surfaces as flyte.errors.OOMError in its parent."""

import flyte
import flyte.errors

env = flyte.TaskEnvironment(name="errors_oom")


@env.task
async def hog(n: int) -> int:
    raise MemoryError(f"could not allocate {n} blocks")


@env.task
async def main(n: int) -> str:
    try:
        await hog(n)
    except flyte.errors.OOMError as e:
        return f"oom: {isinstance(e, flyte.errors.RuntimeUserError)}"
    except flyte.errors.RuntimeUserError as e:
        return f"other: {e.code}"
    return "none"


INPUTS = {"n": 3}
EXPECT = "oom: True"
DIFFERS_FROM_FLYTE_LOCAL = "Flyte's local mode reports a MemoryError as RuntimeUserError(code='MemoryError')"
