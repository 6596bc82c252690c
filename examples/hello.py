"""The hello-world of flyte-jupyter: a parent task fanning out to a child.

    flyte-jupyter run --local examples/hello.py main --data hi --n 5    # local mode
    flyte-jupyter run --remote examples/hello.py main --data hi --n 5   # embedded backend, one process per action
"""

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="hello", resources=flyte.Resources(cpu=1, memory="500Mi"), cache="auto")


@env.task
async def say_hello(data: str, lt: list[int]) -> str:
    print(f"Hello, world! - {flyte.ctx().action}")
    return f"Hello {data} {lt}"


@env.task
async def main(data: str = "default string", n: int = 3) -> str:
    return await say_hello(data=data, lt=list(range(n)))


if __name__ == "__main__":
    flyte.init_from_config()
    run = flyte.run(main, data="hi", n=5)
    print(run.name, run.outputs())
