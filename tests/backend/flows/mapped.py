"""flyte.map, groups and reports inside a remote action."""

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="mapped")


@env.task
def sq(x: int) -> int:
    return x * x


@env.task(report=True)
async def main(n: int) -> list[int]:
    with flyte.group("squares"):
        out = list(flyte.map(sq, range(n)))
    await flyte.report.log.aio(f"<b>{len(out)} squares</b>")
    return out
