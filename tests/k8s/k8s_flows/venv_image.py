"""A task whose image the local builder makes into a virtual environment: no image for a pod."""

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="k8svenv", image=flyte.Image.from_debian_base().with_env_vars({"K8S_VENV": "1"}))


@env.task
def in_a_venv() -> int:
    return 1
