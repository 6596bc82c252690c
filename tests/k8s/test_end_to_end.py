"""The full backend with ``executor: kubernetes``: every action of a run is a pod on the real API server."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

import flyte_jupyter as flyte
from flyte_jupyter.backend.plugins.k8s import crd as _crd
from flyte_jupyter.errors import BackendError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared backend fixture
from _backend_fixture import BackendProcess  # noqa: E402
from k8s_flows import nested, secrets_flow, venv_image  # noqa: E402

pytestmark = pytest.mark.k8s


def _k8s_config(k8s_cluster) -> dict:
    instance = f"e2e-{uuid.uuid4().hex[:8]}"
    return {
        "executor": "kubernetes",
        "executor_config": {"kubeconfig": k8s_cluster.kubeconfig, "python": sys.executable,
                            "default_image": "flyte-jupyter-test:1", "instance": instance,
                            "delete_succeeded_after_seconds": -1, "delete_failed_after_seconds": -1,
                            "abort_grace_seconds": 1},
    }


@pytest.fixture
def k8s_backend(k8s_cluster, tmp_path):
    cfg = tmp_path / "backend.yaml"
    cfg.write_text(yaml.safe_dump(_k8s_config(k8s_cluster)))
    backend = BackendProcess(tmp_path / "backend", extra_args=["--config", str(cfg)])
    backend.start()
    try:  # stopped by PID; its pods are the fake kubelet's processes, not the backend's
        backend.use()
        yield backend
        flyte.init()
    finally:
        backend.stop()


@pytest.fixture
def k8s_scaled_backend(k8s_cluster, postgres_server, s3_server, tmp_path):
    """The cluster deployment's parts: state in PostgreSQL, data in an S3 bucket (moto), actions
    as pods; the pods reach the backend and the S3 server on loopback, as they reach the backend."""
    bucket = s3_server.create_bucket(f"flyte-{uuid.uuid4().hex[:12]}")
    cfg = tmp_path / "backend.yaml"
    cfg.write_text(yaml.safe_dump({**_k8s_config(k8s_cluster),
                                   "storage": {"root": f"s3://{bucket}/data", "options": s3_server.options}}))
    backend = BackendProcess(tmp_path / "backend", extra_args=["--config", str(cfg)],
                             store_url=postgres_server.new_database())
    backend.start()
    try:
        backend.use()
        yield backend, bucket
        flyte.init()
    finally:
        backend.stop()


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
    # the pods reached the backend with its token, yet no pod or TaskAction carries it as a value
    token = k8s_backend.token
    api = k8s_cluster.api_client()
    for obj in [*pods, *tas]:
        assert token not in json.dumps(api.sanitize_for_serialization(obj)), obj
    ref = next(e for e in pods[0].spec.containers[0].env if e.name == "FLYTE_JUPYTER_TOKEN").value_from.secret_key_ref
    secret = client.CoreV1Api(api).read_namespaced_secret(ref.name, ns)
    value = base64.b64decode(secret.data[ref.key]).decode()
    assert value.startswith("fjr1.") and value != token  # a run credential, never the admin token
    assert all(base64.b64decode(v).decode() != token for v in secret.data.values())


@pytest.mark.postgres
@pytest.mark.s3
def test_nested_run_on_postgres_and_s3_every_action_a_pod_every_value_in_the_bucket(
        k8s_scaled_backend, k8s_cluster, s3_server, tmp_path):
    backend, bucket = k8s_scaled_backend
    marker_dir = tmp_path / "markers"
    marker_dir.mkdir()
    run = flyte.with_runcontext(mode="remote").run(nested.parent, n=3, marker_dir=str(marker_dir))
    assert run.outputs() == [1000, 1, 4, "recovered"]
    actions = run.actions
    assert len(actions) == 6
    by_action = {p.metadata.annotations["flyte-jupyter.io/action-name"] for p in _pods(k8s_cluster, run.name)}
    assert by_action == set(actions)  # every action ran as a pod
    # The run's state is PostgreSQL's, its values are the bucket's: inputs and outputs of every
    # action, the bundle; the backend's data dir holds no storage of its own.
    assert backend.execute("SELECT 1 FROM actions WHERE run=?", (run.name,)) == 6
    keys = [k.split("/", 1)[1] for k in s3_server.filesystem().find(bucket)]
    assert any(k.startswith("data/bundles/") for k in keys), keys
    outputs = [k for k in keys if k.startswith("data/runs/") and run.name in k and k.endswith("/outputs.pb")]
    assert len(outputs) >= 6, keys  # one per action, the flaky one's second attempt among them
    assert not (backend.data_dir / "data" / "runs").exists()


def test_oom_pod_fails_the_run_as_oom(k8s_backend):
    run = flyte.with_runcontext(mode="remote").run(nested.hog)
    with pytest.raises(Exception) as info:
        run.outputs()
    assert "OOM" in str(info.value)


def _wait(pred, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_pods_attempt_records_its_cpu_and_peak_memory(k8s_backend):
    """The entrypoint in the pod reports its own rusage (and a container's memory.peak) beside its
    outputs; the backend records them on the attempt, so the details and the timeline show them."""
    from flyte_jupyter._internal.display.timeline import layout

    run = flyte.with_runcontext(mode="remote").run(nested.allocate, mb=200)
    assert run.outputs() == 200
    _, listed = asyncio.run(k8s_backend.client().get_run(run.name))
    usage = listed[0].usage
    assert len(usage) == 1 and usage[0].attempt == 1
    assert usage[0].cpu_seconds is not None and usage[0].cpu_seconds > 0.05
    assert usage[0].peak_memory_bytes is not None and usage[0].peak_memory_bytes >= 200 << 20
    tl = layout(run.name, {a.name: a for a in listed})  # the numbers the panel's timeline and tooltips draw
    assert tl.cpu_seconds == usage[0].cpu_seconds and tl.peak_memory_bytes == usage[0].peak_memory_bytes
    assert tl.bars[0].usage["1"]["peak_memory_bytes"] >= 200 << 20


def test_abort_deletes_the_pods(k8s_backend, k8s_cluster):
    run = flyte.with_runcontext(mode="remote").run(nested.sleepy_parent, n=2, seconds=120)
    _wait(lambda: sum(p.status.phase == "Running" for p in _pods(k8s_cluster, run.name)) == 3,
          "the parent and both children running as pods")
    run.abort()
    run.wait(timeout=60)
    assert run.phase is flyte.Phase.ABORTED
    _wait(lambda: not _pods(k8s_cluster, run.name), "every pod of the run to be deleted")


def test_logs_of_a_pod_reach_the_client(k8s_backend):
    run = flyte.with_runcontext(mode="remote").run(nested.sleeper, seconds=0.2)
    assert run.outputs() == 0.2
    assert "sleeping" in run.logs()


def test_backend_restart_during_a_run_adopts_the_running_pods(k8s_backend, k8s_cluster):
    run = flyte.with_runcontext(mode="remote").run(nested.sleepy_parent, n=2, seconds=4)
    _wait(lambda: sum(p.status.phase == "Running" for p in _pods(k8s_cluster, run.name)) == 3,
          "the parent and both children running as pods")
    k8s_backend.kill()
    time.sleep(0.5)
    k8s_backend.start()
    run.wait(timeout=120)
    assert run.phase is flyte.Phase.SUCCEEDED, [(a.name, a.phase, a.error) for a in run.actions.values()]
    pods = _pods(k8s_cluster, run.name)
    names = [p.metadata.annotations["flyte-jupyter.io/action-name"] for p in pods]
    assert sorted(names) == sorted(set(names)) and len(names) == 3  # adopted, none started twice
    assert all(p.status.phase == "Succeeded" for p in pods)


def test_a_timeout_is_timed_out_in_the_run_and_on_the_taskaction(k8s_backend, k8s_cluster):
    run = flyte.with_runcontext(mode="remote").run(nested.too_slow)
    run.wait(timeout=90)
    assert run.phase is flyte.Phase.TIMED_OUT
    api = client.CustomObjectsApi(k8s_cluster.api_client())

    def taskaction_phase() -> str | None:
        tas = api.list_cluster_custom_object(_crd.GROUP, _crd.VERSION, _crd.PLURAL,
                                             label_selector=f"flyte-jupyter.io/run={run.name}")["items"]
        return ((tas[0].get("status") or {}).get("phase")) if tas else None

    _wait(lambda: taskaction_phase() == "TIMED_OUT", "the TaskAction status TIMED_OUT")


def test_a_local_venv_image_is_refused_when_the_run_is_created(k8s_backend, tmp_path, monkeypatch):
    monkeypatch.setenv("FLYTE_JUPYTER_IMAGE_HOME", str(tmp_path / "images"))
    monkeypatch.setenv("FLYTE_JUPYTER_IMAGE_BUILDER", "local")  # builds a virtual environment
    with pytest.raises(BackendError) as info:
        flyte.with_runcontext(mode="remote").run(venv_image.in_a_venv)
    assert info.value.code == "INVALID_ARGUMENT"  # CreateRun refused it: no run, no pod
    msg = str(info.value)
    assert "k8svenv.in_a_venv" in msg and str(tmp_path / "images" / "venvs") in msg, msg  # names the venv
    assert "flyte-jupyter image build FILE --builder docker" in msg and "FLYTE_JUPYTER_IMAGE_BUILDER=docker" in msg


def test_a_pod_reads_its_declared_secret_by_reference_and_holds_no_value(k8s_backend, k8s_cluster):
    """Issue 19: the value is only in the namespace's secrets Secret; pods and TaskActions refer to it."""
    import asyncio
    import hashlib
    import secrets

    from flyte_jupyter._internal.client import platform

    value = "sk-k8s-" + secrets.token_hex(12)
    asyncio.run(platform.create_secret(k8s_backend.client(), "openai", value.encode()))
    run = flyte.with_runcontext(mode="remote").run(secrets_flow.reader)
    assert run.outputs() == hashlib.sha256(value.encode()).hexdigest()
    other = flyte.with_runcontext(mode="remote").run(secrets_flow.undeclared)
    assert other.outputs() is False  # declares none, gets none

    api = k8s_cluster.api_client()
    pods = _pods(k8s_cluster, run.name)
    assert pods
    for pod in pods + _pods(k8s_cluster, other.name):
        assert value not in json.dumps(api.sanitize_for_serialization(pod))
    ns = pods[0].metadata.namespace
    tas = client.CustomObjectsApi(api).list_namespaced_custom_object(_crd.GROUP, _crd.VERSION, ns, _crd.PLURAL)
    assert value not in json.dumps(tas)
    env = {e.name: e for e in pods[0].spec.containers[0].env}
    ref = env["OPENAI_API_KEY"].value_from.secret_key_ref
    assert env["OPENAI_API_KEY"].value is None and ref.name.startswith("flyte-jupyter-secrets")
    stored = client.CoreV1Api(api).read_namespaced_secret(ref.name, ns)
    assert base64.b64decode(stored.data[ref.key]).decode() == value  # only where Kubernetes keeps secrets
