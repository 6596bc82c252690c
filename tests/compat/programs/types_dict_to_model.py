"""A dict passed where a dataclass or a pydantic model is declared: converted, defaults filled."""

import dataclasses

import flyte
import pydantic

env = flyte.TaskEnvironment(name="types_dict_to_model")


@dataclasses.dataclass
class Point:
    x: int
    y: float = 0.5


class Settings(pydantic.BaseModel):
    name: str
    retries: int = 3
    tags: list[str] = []


@env.task
async def point(p: Point) -> str:
    return f"{type(p).__name__}(x={p.x}, y={p.y})"


@env.task
async def points(ps: list[Point]) -> list:
    return [type(p).__name__ for p in ps]


@env.task
async def settings(s: Settings) -> dict:
    return {"type": type(s).__name__, "name": s.name, "retries": s.retries, "tags": s.tags}


@env.task
async def main() -> dict:
    return {
        "point": await point({"x": 1}),
        "points": await points([{"x": 1, "y": 2.0}, Point(3)]),
        "settings": await settings({"name": "job", "retries": "5"}),
    }


INPUTS = {}
EXPECT = {"point": "Point(x=1, y=0.5)", "points": ["Point", "Point"],
          "settings": {"type": "Settings", "name": "job", "retries": 5, "tags": []}}
