"""The Dask plugin beside the Kubernetes executor, against a real API server and the fake kubelet:
a scheduler pod, a service and the worker pods are created for the attempt, the task's pod gets the
scheduler's address, and everything of the cluster is deleted when the attempt ends or is aborted."""

from __future__ import annotations

import dataclasses

import pytest
from _k8s_testlib import Recorder, _until, core, spec_for

from flyte_jupyter.backend.executor import OutcomeKind, PluginConfig
from flyte_jupyter.backend.plugins.dask.k8s import L_CLUSTER, L_ROLE
from flyte_jupyter.backend.plugins.dask.plugin import DaskPlugin

pytestmark = pytest.mark.k8s

_CUSTOM = {"scheduler": {"image": "", "resources": {}},
           "workers": {"number_of_workers": 2, "image": "dask-worker:1", "resources": {"cpu": "2", "memory": "1Gi"}}}


def _cluster_objects(k8s_cluster, ns: str) -> tuple[dict[str, str], list[str]]:
    api = core(k8s_cluster)
    pods = {p.metadata.name: p.metadata.labels[L_ROLE]
            for p in api.list_namespaced_pod(ns, label_selector=L_CLUSTER).items if p.metadata.deletion_timestamp is None}
    services = [s.metadata.name for s in api.list_namespaced_service(ns, label_selector=L_CLUSTER).items]
    return pods, services


async def test_a_dask_attempt_gets_scheduler_worker_pods_and_a_service_deleted_at_its_end(
        make_plugin, k8s_cluster, project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = await make_plugin()
    plugin = DaskPlugin(PluginConfig(data_dir=tmp_path, endpoint="127.0.0.1:9", runner=runner))
    spec = dataclasses.replace(
        spec_for(project, tmp_path, "import os, time; print(os.environ['DASK_SCHEDULER_ADDRESS']); time.sleep(3)"),
        task_type="dask", custom=_CUSTOM)
    spec = dataclasses.replace(spec, resource=plugin.build(spec))
    rec = Recorder()
    handle = await plugin.launch(spec, rec)
    ns = f"{project}-development"
    pods, services = _cluster_objects(k8s_cluster, ns)
    assert sorted(pods.values()) == ["scheduler", "worker", "worker"] and len(services) == 1
    api = core(k8s_cluster)
    worker = api.read_namespaced_pod(next(name for name, role in pods.items() if role == "worker"), ns)
    c = worker.spec.containers[0]
    address = f"tcp://{services[0]}.{ns}.svc:8786"
    assert c.image == "dask-worker:1" and address in c.command and "--no-nanny" in c.command
    assert c.resources.limits == {"cpu": "2", "memory": "1Gi"} and c.command[c.command.index("--nthreads") + 1] == "2"
    svc = api.read_namespaced_service(services[0], ns)
    assert svc.spec.selector[L_ROLE] == "scheduler" and {p.port for p in svc.spec.ports} == {8786, 8787}
    outcome = await rec.done()
    assert outcome.succeeded
    lines = [line.text async for line in plugin.logs(spec, handle)]
    assert lines == [address]  # the task's own pod was told where the scheduler is
    await _until(lambda: _cluster_objects(k8s_cluster, ns) == ({}, []), "the cluster's pods and service deleted")


async def test_an_aborted_dask_attempt_deletes_its_cluster(make_plugin, k8s_cluster, project, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = await make_plugin()
    plugin = DaskPlugin(PluginConfig(data_dir=tmp_path, endpoint="127.0.0.1:9", runner=runner))
    spec = dataclasses.replace(spec_for(project, tmp_path, "import time; time.sleep(120)"), task_type="dask",
                               custom=_CUSTOM)
    rec = Recorder()
    handle = await plugin.launch(spec, rec)
    await rec.running()
    ns = f"{project}-development"
    assert len(_cluster_objects(k8s_cluster, ns)[0]) == 3
    await plugin.abort(handle, spec, "abort")
    assert (await rec.done()).kind is OutcomeKind.ABORTED
    await _until(lambda: _cluster_objects(k8s_cluster, ns) == ({}, []), "the cluster's pods and service deleted")
