"""Pieces of the Kubernetes executor that need no API server: settings, names, pod templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.executor import LaunchSpec, PluginConfig
from flyte_jupyter.backend.plugins.k8s import K8sSettings, KubernetesPlugin
from flyte_jupyter.backend.plugins.k8s import names as n
from flyte_jupyter.backend.plugins.k8s import secret as _secret
from flyte_jupyter.backend.plugins.k8s.podspec import build_pod
from flyte_jupyter.backend.plugins.k8s.status import view


def test_unknown_setting_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError) as e:
        K8sSettings.from_dict({"namespce_template": "x"})
    assert "namespce_template" in str(e.value) and "namespace_template" in str(e.value)
    assert K8sSettings.from_dict({"kubernetes": {"default_image": "img"}}).default_image == "img"


def test_names_are_dns_safe_unique_and_bounded():
    assert n.pod_name("r1", "a0", 2) == "r1-a0-2"
    long_a, long_b = n.pod_name("R" * 80, "a0", 1), n.pod_name("R" * 80 + "x", "a0", 1)
    assert long_a != long_b and len(long_a) <= 63 and long_a == long_a.lower()
    assert n.dns_label("My_Run") != n.dns_label("my-run")  # rewritten names keep apart
    assert n.namespace_for("{project}-{domain}", "Flytesnacks", "development").startswith("flytesnacks-development")
    assert len(n.label_value("x." * 60)) <= 63
    with pytest.raises(ValueError, match="namespace_template"):
        n.namespace_for("{team}-{domain}", "p", "d")


def _spec(**kw) -> LaunchSpec:
    base = dict(run_name="r1", action_name="a0", attempt=1, project="p", domain="d", task_name="m.t",
                task_version="v", task_type="python", args=("--inputs", "x"), env={"A": "1"},
                outputs_path="/o", workdir="/w", log_dir="/l")
    base.update(kw)
    return LaunchSpec(**base)


def test_pod_template_merge_keeps_sidecars_and_lets_the_task_win():
    settings = K8sSettings(pod_template={"pod_spec": {"tolerations": [{"key": "gpu"}],
                                                      "containers": [{"name": "primary", "env": [{"name": "A", "value": "0"}],
                                                                      "volumeMounts": [{"name": "v", "mountPath": "/v"}]},
                                                                     {"name": "sidecar", "image": "proxy:1"}]}})
    pod = build_pod(_spec(image="auto", cpu=1.5, memory_bytes=1 << 30, gpu=1,
                          custom={"pod_template": {"podSpec": {"nodeSelector": {"pool": "a"}}}}),
                    settings, "p-d", "h:1")
    spec = pod["spec"]
    primary, sidecar = spec["containers"]
    assert primary["name"] == "primary" and sidecar == {"name": "sidecar", "image": "proxy:1"}
    assert primary["image"] == settings.default_image  # "auto": the backend's default image
    assert primary["command"] == ["python", "-m", "flyte_jupyter.entrypoint", "--inputs", "x"]
    assert {"name": "A", "value": "1"} in primary["env"]  # the task's env wins over the template's
    assert primary["volumeMounts"] == [{"name": "v", "mountPath": "/v"}]
    assert primary["resources"]["limits"] == {"cpu": "1500m", "memory": str(1 << 30), "nvidia.com/gpu": "1"}
    assert spec["tolerations"] == [{"key": "gpu"}] and spec["nodeSelector"] == {"pool": "a"}
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is False
    assert "activeDeadlineSeconds" not in spec


def test_a_request_below_its_limit_is_the_pods_request_and_a_single_quantity_is_both():
    pair = build_pod(_spec(cpu=1.0, cpu_request=0.25, memory_bytes=1 << 30, memory_request=256 << 20),
                     K8sSettings(), "p-d", "h:1")["spec"]["containers"][0]["resources"]
    assert pair == {"limits": {"cpu": "1000m", "memory": str(1 << 30)},
                    "requests": {"cpu": "250m", "memory": str(256 << 20)}}
    single = build_pod(_spec(cpu=0.5, memory_bytes=1 << 29), K8sSettings(), "p-d", "h:1")["spec"]["containers"][0]
    assert single["resources"]["requests"] == single["resources"]["limits"] == {"cpu": "500m", "memory": str(1 << 29)}


def test_a_local_venv_image_is_refused_naming_the_image_and_the_docker_builder():
    venv = "/home/me/.local/share/flyte-jupyter/images/venvs/0123abcd"
    for image in (venv, "file:///tmp/venv", "./venv"):
        with pytest.raises(ValueError) as e:
            build_pod(_spec(image=image), K8sSettings(), "p-d", "h:1")
        msg = str(e.value)
        assert image in msg and "m.t" in msg
        assert "flyte-jupyter image build FILE --builder docker" in msg and "FLYTE_JUPYTER_IMAGE_BUILDER=docker" in msg
    # the run service asks the plugin before it creates a run
    plugin = KubernetesPlugin(PluginConfig(data_dir=Path("/nonexistent"), endpoint="h:1"))
    with pytest.raises(ValueError, match="local virtual environment"):
        plugin.check_task(pb.TaskSpec(id=pb.TaskIdentifier(name="m.t"), image=venv))
    plugin.check_task(pb.TaskSpec(id=pb.TaskIdentifier(name="m.t"), image="ghcr.io/me/img:1"))
    plugin.check_task(pb.TaskSpec(id=pb.TaskIdentifier(name="m.t")))
    for image, expected in (("", "flyte-jupyter:0.1.0"), ("auto", "flyte-jupyter:0.1.0"), ("python:3.11", "python:3.11")):
        assert build_pod(_spec(image=image), K8sSettings(), "p-d", "h:1")["spec"]["containers"][0]["image"] == expected


def test_the_token_is_only_a_secret_reference_in_the_pod():
    token = "tok-" + "s3cr3t" * 5
    pod = build_pod(_spec(env={"A": "1", "FLYTE_JUPYTER_TOKEN": token}), K8sSettings(), "p-d", "h:1")
    assert token not in json.dumps(pod)
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["FLYTE_JUPYTER_TOKEN"] == {"name": "FLYTE_JUPYTER_TOKEN", "valueFrom": {
        "secretKeyRef": {"name": "flyte-jupyter-token", "key": "token"}}}
    assert env["A"] == {"name": "A", "value": "1"}
    # a second backend (instance) on the cluster has its own Secret; no token, no reference
    assert _secret.secret_name(K8sSettings(instance="team-a")) == "flyte-jupyter-token-team-a"
    pod = build_pod(_spec(env={"FLYTE_JUPYTER_TOKEN": ""}), K8sSettings(), "p-d", "h:1")
    assert all(e["name"] != "FLYTE_JUPYTER_TOKEN" for e in pod["spec"]["containers"][0]["env"])
    # a pod template's env var with a value is replaced by the reference, not mixed with it
    settings = K8sSettings(pod_template={"pod_spec": {"containers": [
        {"name": "primary", "env": [{"name": "FLYTE_JUPYTER_TOKEN", "value": "from-template"}]}]}})
    pod = build_pod(_spec(env={"FLYTE_JUPYTER_TOKEN": token}), settings, "p-d", "h:1")
    entry = next(e for e in pod["spec"]["containers"][0]["env"] if e["name"] == "FLYTE_JUPYTER_TOKEN")
    assert "value" not in entry and entry["valueFrom"]["secretKeyRef"]["key"] == "token"


def _pod(phase: str, state: dict, **status) -> dict:
    return {"metadata": {"name": "p", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "primary", "resources": {"limits": {"memory": str(200 << 20)}}}]},
            "status": {"phase": phase, "containerStatuses": [{"name": "primary", "state": state}], **status}}


def test_pod_status_reading():
    assert view(_pod("Pending", {"waiting": {"reason": "ContainerCreating"}})).phase.value == "INITIALIZING"
    assert view(_pod("Running", {"running": {}})).phase.value == "RUNNING"
    oom = view(_pod("Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}))
    assert oom.ended == "oom" and "200Mi" in oom.message
    err = view(_pod("Failed", {"terminated": {"exitCode": 2, "reason": "Error", "message": "boom"}}))
    assert (err.ended, err.exit_code, err.message) == ("exited", 2, "boom")
    pull = view(_pod("Pending", {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}))
    assert pull.stuck_since is not None and "no such image" in pull.message
    assert view(_pod("Failed", {}, reason="Evicted", message="low memory")).ended == "lost"
