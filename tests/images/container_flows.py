"""Tasks the container tests run: Python actions in a Docker-built image, and ContainerTasks.

The image names the session's registry and base images, which the tests pass in the environment
(read at import, here and inside the containers, where the names are not needed: an action finds
its environment's image by environment name).
"""

from __future__ import annotations

import asyncio
import os
import time

import flyte_jupyter as flyte
from flyte_jupyter.extras import ContainerTask

REGISTRY = os.environ.get("FLYTE_JUPYTER_TEST_REGISTRY") or None
PYTHON = tuple(int(p) for p in os.environ.get("FLYTE_JUPYTER_TEST_PYTHON", "3.11").split("."))
BUSYBOX = os.environ.get("FLYTE_JUPYTER_TEST_BUSYBOX", "busybox")

image = flyte.Image.from_debian_base(python_version=PYTHON, registry=REGISTRY, name="actions").with_pip_packages(
    "iso8601==2.1.0")
boxed = flyte.TaskEnvironment(name="boxed", image=image)


@boxed.task
async def child(x: int) -> str:
    from importlib.metadata import version

    import iso8601  # only the image has it

    assert iso8601.parse_date("2026-01-02").year == 2026
    return f"{x}:{version('iso8601')}:{os.path.exists('/.dockerenv')}"


@boxed.task
async def parent(n: int) -> list[str]:
    return list(await asyncio.gather(*(child(i) for i in range(n))))


@boxed.task(resources=flyte.Resources(memory="128Mi"))
async def hog() -> int:
    block = bytearray(400 * 1024 * 1024)
    return len(block)


@boxed.task
def sleeper() -> None:
    print("sleeping in a container", flush=True)
    time.sleep(600)


greet = ContainerTask(
    name="greet", image=BUSYBOX,
    command=["sh", "-c", "echo hello {{.inputs.who}} > /var/outputs/msg; expr $(cat /var/inputs/n) + 1 > /var/outputs/n1"],
    inputs={"who": str, "n": int}, outputs={"msg": str, "n1": int},
)
fail3 = ContainerTask(name="fail3", image=BUSYBOX, command=["sh", "-c", "echo about to fail >&2; exit 3"])
greeter = flyte.TaskEnvironment.from_task("greeter", greet)
failer = flyte.TaskEnvironment.from_task("failer", fail3)
caller = flyte.TaskEnvironment(name="caller", depends_on=[greeter])


@caller.task
async def call_greet(who: str) -> str:
    msg, n1 = await greet(who=who, n=41)
    return f"{msg}/{n1}"
