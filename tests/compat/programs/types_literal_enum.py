"""A Literal of enum members as a task input."""

import enum
from typing import Literal

import flyte

env = flyte.TaskEnvironment(name="types_literal_enum")


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


@env.task
async def describe(c: Literal[Color.RED, Color.GREEN]) -> str:
    return f"{type(c).__name__}.{c.name}={c.value}"


@env.task
async def main() -> list:
    return [await describe(Color.RED), await describe(Color.GREEN)]


INPUTS = {}
EXPECT = ["Color.RED=red", "Color.GREEN=green"]
