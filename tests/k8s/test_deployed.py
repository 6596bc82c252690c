"""A deployed task on the Kubernetes executor (issue 13): a run of the registered version is pods in
the project-domain namespace, with the project-domain's resource defaults in each pod."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes import client
from test_end_to_end import _pods, k8s_backend  # noqa: F401 - the backend fixture, reused

import flyte_jupyter as flyte
from flyte_jupyter._deploy import deploy
from flyte_jupyter._internal.deploy.package import load_path

pytestmark = pytest.mark.k8s

MODULE = '''
import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="k8sdep")


@env.task
async def square(x: int) -> int:
    return x * x


@env.task
async def main(x: int) -> str:
    return "{tag}:" + str(await square(x))
'''


def test_a_deployed_task_runs_as_pods_in_the_project_domain_namespace(k8s_backend, k8s_cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    asyncio.run(k8s_backend.client().update_resource_attributes("p-k8sdep", "staging", {"memory": "200Mi"}, {}))
    src = tmp_path / "src"
    src.mkdir()
    path = src / "k8s_deployed.py"
    path.write_text(MODULE.format(tag="registered"))
    flyte.init_from_config(str(k8s_backend.client_yaml), project="p-k8sdep", domain="staging")
    deploy(load_path(path)[0].env, version="v1")
    path.write_text(MODULE.format(tag="edited"))  # the local file moves on; the registered code runs

    task = flyte.remote.Task.get("k8sdep.main", project="p-k8sdep", domain="staging", version="v1")
    run = flyte.run(task, x=7)
    assert run.outputs() == "registered:49"
    pods = _pods(k8s_cluster, run.name)
    assert {p.metadata.annotations["flyte-jupyter.io/action-name"] for p in pods} == set(run.actions)
    assert len(pods) == 2 and {p.metadata.namespace for p in pods} == {"p-k8sdep-staging"}
    for pod in pods:  # the default the registration recorded, as the pod's memory
        assert pod.spec.containers[0].resources.limits["memory"] == str(200 << 20)
    assert all(p.status.phase == "Succeeded" for p in pods)
    ns = client.CoreV1Api(k8s_cluster.api_client()).read_namespace("p-k8sdep-staging")
    assert ns.metadata.name == "p-k8sdep-staging"
