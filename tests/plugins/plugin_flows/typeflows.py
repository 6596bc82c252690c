"""A task plugin whose type no backend plugin serves, and pod templates on the embedded backend."""

import dataclasses
import os

import flyte_jupyter as flyte
from flyte_jupyter.extend import AsyncFunctionTaskTemplate, TaskPluginRegistry


@dataclasses.dataclass
class Spark:
    executors: int = 2


class SparkTask(AsyncFunctionTaskTemplate):
    task_type = "spark"

    def custom_config(self, sctx):  # type: ignore[no-untyped-def]
        return {"executors": self.plugin_config.executors}


TaskPluginRegistry.register(Spark, SparkTask)

spark_env = flyte.TaskEnvironment(name="plugin_spark", plugin_config=Spark(executors=3))


@spark_env.task
async def on_spark(x: int) -> int:
    return x


pod_env = flyte.TaskEnvironment(
    name="plugin_pod",
    pod_template=flyte.PodTemplate(
        primary_container_name="primary",
        pod_spec={
            "containers": [
                {"name": "primary", "env": [{"name": "FROM_TEMPLATE", "value": "yes"}],
                 "resources": {"limits": {"memory": "300Mi", "cpu": "1"}}},
                {"name": "sidecar", "image": "busybox"},
            ],
            "nodeSelector": {"disk": "ssd"},
        },
        labels={"team": "a"},
    ),
)


@pod_env.task
def env_seen() -> str:
    return os.environ.get("FROM_TEMPLATE", "")


@pod_env.task
def hog() -> int:
    """Allocates past the template's 300Mi memory limit: the limit applies, as an OOM."""
    block = bytearray(600 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)
