import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="dup")


@env.task
def work() -> int:
    return 2
