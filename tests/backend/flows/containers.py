"""ContainerTasks with image="local": their commands run on the host (no container engine)."""

from __future__ import annotations

import flyte_jupyter as flyte
from flyte_jupyter.extras import ContainerTask

# Fields of a record as files in, a line of text and numbers out.
measure = ContainerTask(
    name="measure", image="local",
    command=["sh", "-c", "printf '%s|%s|%s' \"$(cat /var/inputs/word)\" {{.inputs.loud}} {{.inputs.scale}} "
                         "> /var/outputs/line; expr length {{.inputs.word}} > /var/outputs/size; echo measured"],
    inputs={"word": str, "loud": bool, "scale": float}, outputs={"line": str, "size": int},
)
forgetful = ContainerTask(name="forgetful", image="local", command=["sh", "-c", "echo nothing written, token=${FLYTE_JUPYTER_TOKEN:-none}"],
                          outputs={"answer": int})
crashing = ContainerTask(name="crashing", image="local", command=["sh", "-c", "echo disk on fire >&2; exit 3"])
boxed = ContainerTask(name="boxed", image="flyte-jupyter-test.invalid/busybox:1", command=["true"])
measures = flyte.TaskEnvironment.from_task("measures", measure, forgetful, crashing)
boxes = flyte.TaskEnvironment.from_task("boxes", boxed)
caller = flyte.TaskEnvironment(name="container_caller", depends_on=[measures])


@caller.task
async def measure_twice(word: str) -> list[str]:
    first = await measure(word=word, loud=True, scale=1.5)
    second = await measure(word=word * 2, loud=False, scale=2.0)
    return [f"{line}/{size}" for line, size in (first, second)]
