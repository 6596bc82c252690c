"""A task's secrets in its pod (issue 19): by reference to the namespace's secrets Secret, never as a
value in the pod or its TaskAction."""

from __future__ import annotations

import json

from flyte_jupyter.backend.executor import LaunchSpec
from flyte_jupyter.backend.executor.plugin import SecretValue
from flyte_jupyter.backend.plugins.k8s import K8sSettings
from flyte_jupyter.backend.plugins.k8s import user_secrets as us
from flyte_jupyter.backend.plugins.k8s.controller import Controller
from flyte_jupyter.backend.plugins.k8s.podspec import build_pod

VALUE = b"sk-pod-spec-value-0123456789"
CERT = b"-----CERT pod-spec-file-----"


def _spec(**kw) -> LaunchSpec:  # type: ignore[no-untyped-def]
    base = dict(run_name="r1", action_name="a0", attempt=1, project="p", domain="d", task_name="m.t",
                task_version="v", task_type="python", args=("--inputs", "x"), env={"A": "1"},
                outputs_path="/o", workdir="/w", log_dir="/l",
                secrets=(SecretValue("openai", "OPENAI_API_KEY", VALUE),
                         SecretValue("tls.cert", "TLS_CERT", CERT, "/etc/flyte/secrets")))
    base.update(kw)
    return LaunchSpec(**base)


def test_the_pod_and_its_taskaction_refer_to_the_secrets_and_hold_no_value() -> None:
    settings = K8sSettings(pod_template={"pod_spec": {"volumes": [{"name": "data", "emptyDir": {}}],
                                                      "containers": [{"name": "primary", "volumeMounts": [
                                                          {"name": "data", "mountPath": "/data"}]}]}})
    spec = _spec()
    pod = build_pod(spec, settings, "p-d", "h:1")
    body = Controller.taskaction_body(object.__new__(Controller), "p-d", spec, pod)
    for text in (json.dumps(pod), json.dumps(body), repr(spec)):
        assert VALUE.decode() not in text and CERT.decode() not in text
    primary = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in primary["env"]}
    assert env["OPENAI_API_KEY"] == {"name": "OPENAI_API_KEY", "valueFrom": {"secretKeyRef": {
        "name": "flyte-jupyter-secrets", "key": us.key_of(spec, spec.secrets[0])}}}
    assert env["TLS_CERT_FILE"] == {"name": "TLS_CERT_FILE", "value": "/etc/flyte/secrets/tls.cert"}
    assert "TLS_CERT" not in env  # a mounted secret is a file, not an env var
    mounts = {m["name"]: m for m in primary["volumeMounts"]}
    assert mounts["data"]["mountPath"] == "/data"  # the template's mount stays
    assert mounts["fj-secret-1"] == {"name": "fj-secret-1", "mountPath": "/etc/flyte/secrets/tls.cert",
                                     "subPath": "tls.cert", "readOnly": True}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert "data" in volumes
    assert volumes["fj-secret-1"]["secret"] == {"secretName": "flyte-jupyter-secrets", "defaultMode": 0o400,
                                                "items": [{"key": us.key_of(spec, spec.secrets[1]),
                                                           "path": "tls.cert"}]}
    assert us.secret_name(K8sSettings(instance="team-a")) == "flyte-jupyter-secrets-team-a"


def test_the_namespace_secret_holds_each_project_and_domain_apart_and_keeps_other_keys() -> None:
    mine, theirs = _spec(), _spec(project="q")
    assert us.key_of(mine, mine.secrets[0]) != us.key_of(theirs, theirs.secrets[0])
    data = us.data_of(mine)
    assert data[us.key_of(mine, mine.secrets[0])] == VALUE.decode()
    assert us.merged({"other-key": "x"}, data) == {"other-key": "x", **data}
    plain = build_pod(_spec(secrets=()), K8sSettings(), "p-d", "h:1")
    assert "volumes" not in plain["spec"] and "volumeMounts" not in plain["spec"]["containers"][0]
