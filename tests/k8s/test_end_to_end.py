"""The full backend with ``executor: kubernetes``: every action of a run is a pod on the real API server."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

import flyte_jupyter as flyte
from flyte_jupyter.backend.k8s import _crd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared backend fixture
from _backend_fixture import BackendProcess  # noqa: E402
from k8s_flows import nested  # noqa: E402

pytestmark = pytest.mark.k8s


@pytest.fixture
def k8s_backend(k8s_cluster, tmp_path):
    instance = f"e2e-{uuid.uuid4().hex[:8]}"
    cfg = tmp_path / "backend.yaml"
    cfg.write_text(yaml.safe_dump({
        "executor": "kubernetes",
        "executor_config": {"kubeconfig": k8s_cluster.kubeconfig, "python": sys.executable,
                            "default_image": "flyte-jupyter-test:1", "instance": instance,
                            "delete_succeeded_after_seconds": -1, "delete_failed_after_seconds": -1,
                            "abort_grace_seconds": 1},
    }))
    backend = BackendProcess(tmp_path / "backend", extra_args=["--config", str(cfg)])
    with backend:
        backend.use()
        backend.instance = instance  # type: ignore[attr-defined]
        yield backend
        flyte.init()


def _pods(k8s_cluster, run_name: str) -> list:
    return client.CoreV1Api(k8s_cluster.api_client()).list_pod_for_all_namespaces(
        label_selector=f"flyte-jupyter.io/run={run_name}").items


def test_nested_run_every_action_a_pod_and_a_failed_pod_is_retried(k8s_backend, k8s_cluster, tmp_path):
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    run = flyte.with_runcontext(mode="remote").run(nested.parent, n=3, marker_dir=str(marker_dir))
    assert run.outputs() == [1000, 1, 4, "recovered"]
    actions = run.actions
    assert len(actions) == 6  # a0, three children, the grandchild, the flaky child
    pods = _pods(k8s_cluster, run.name)
    by_action: dict[str, list] = {}
    for p in pods:
        by_action.setdefault(p.metadata.annotations["flyte-jupyter.io/action-name"], []).append(p)
    assert set(by_action) == set(actions)  # every action ran as a pod
    flaky = next(a for a in actions.values() if a.task.endswith("flaky"))
    assert sorted(p.status.phase for p in by_action[flaky.name]) == ["Failed", "Succeeded"]  # retried: 2 pods
    assert all(len(ps) == 1 for name, ps in by_action.items() if name != flaky.name)
    ns = pods[0].metadata.namespace
    tas = client.CustomObjectsApi(k8s_cluster.api_client()).list_namespaced_custom_object(
        _crd.GROUP, _crd.VERSION, ns, _crd.PLURAL, label_selector=f"flyte-jupyter.io/run={run.name}")["items"]
    assert len(tas) == 6
    deadline = time.monotonic() + 30
    while any((t.get("status") or {}).get("phase") != "SUCCEEDED" for t in tas) and time.monotonic() < deadline:
        time.sleep(0.3)
        tas = client.CustomObjectsApi(k8s_cluster.api_client()).list_namespaced_custom_object(
            _crd.GROUP, _crd.VERSION, ns, _crd.PLURAL, label_selector=f"flyte-jupyter.io/run={run.name}")["items"]
    assert all(t["status"]["phase"] == "SUCCEEDED" for t in tas)
    assert {t["spec"]["actionName"]: t["status"]["attempt"] for t in tas}[flaky.name] == 2


def test_oom_pod_fails_the_run_as_oom(k8s_backend):
    run = flyte.with_runcontext(mode="remote").run(nested.hog)
    with pytest.raises(Exception) as info:
        run.outputs()
    assert "OOM" in str(info.value)
