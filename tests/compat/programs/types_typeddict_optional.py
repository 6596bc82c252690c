"""TypedDict keys that may be absent (`NotRequired`): absent stays absent, present arrives."""

from typing import TypedDict

import flyte
from typing_extensions import NotRequired

env = flyte.TaskEnvironment(name="types_typeddict_optional")


class Job(TypedDict):
    name: str
    priority: NotRequired[int]
    tags: NotRequired[list[str]]


@env.task
async def job(j: Job) -> dict:
    return {"name": j["name"], "priority": j.get("priority", -1), "keys": sorted(j)}


@env.task
async def main() -> list:
    return [await job({"name": "a"}), await job({"name": "b", "priority": 7, "tags": ["x"]})]


INPUTS = {}
EXPECT = [{"name": "a", "priority": -1, "keys": ["name"]}, {"name": "b", "priority": 7, "keys": ["name", "priority", "tags"]}]
