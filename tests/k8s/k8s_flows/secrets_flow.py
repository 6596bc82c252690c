"""A task that reads a secret on the Kubernetes executor (issue 19), and one that declares none."""

import hashlib
import os

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="k8ssecrets")


@env.task(secrets=[flyte.Secret(key="openai", as_env_var="OPENAI_API_KEY")])
def reader() -> str:
    return hashlib.sha256(os.environ["OPENAI_API_KEY"].encode()).hexdigest()


@env.task
def undeclared() -> bool:
    return "OPENAI_API_KEY" in os.environ
