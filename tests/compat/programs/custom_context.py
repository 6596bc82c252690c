"""flyte.custom_context(...) adds metadata that every action started inside the block sees
(flyte.get_custom_context()), and that flows on to the actions they start."""

import flyte

env = flyte.TaskEnvironment(name="custom_context")


@env.task
async def grandchild() -> dict:
    return flyte.get_custom_context()


@env.task
async def child() -> dict:
    mine = flyte.get_custom_context()
    with flyte.custom_context(stage="inner"):
        below = await grandchild()
    return {"child": mine, "grandchild": below}


@env.task
async def main(team: str) -> dict:
    outside = flyte.get_custom_context()
    with flyte.custom_context(team=team):
        inside = await child()
    return {"main": outside, **inside}


INPUTS = {"team": "ml"}
EXPECT = {"main": {}, "child": {"team": "ml"}, "grandchild": {"team": "ml", "stage": "inner"}}
