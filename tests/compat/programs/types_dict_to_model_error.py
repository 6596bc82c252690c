"""A dict whose values do not fit the dataclass's fields is refused (as Flyte refuses it)."""

import dataclasses

import flyte

env = flyte.TaskEnvironment(name="types_dict_to_model_error")


@dataclasses.dataclass
class Point:
    x: int


@env.task
async def point(p: Point) -> int:
    return p.x


@env.task
async def main() -> int:
    return await point({"x": "not a number"})


INPUTS = {}
EXPECT_ERROR = "RuntimeUserError"  # carrying the TypeError (Flyte: code "TypeError")
