"""deploy/kubernetes/ against a real API server: server-side dry run, and the RBAC it grants."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from flyte_jupyter.backend.plugins.k8s import crd as _crd

pytestmark = pytest.mark.k8s

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
SA = "system:serviceaccount:flyte-jupyter:flyte-jupyter-backend"


def _kubectl(cluster, *args: str) -> subprocess.CompletedProcess:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: run `bash .ci/setup-k8s.sh` (installs Debian's kubernetes-client)")
    return subprocess.run([kubectl, "--kubeconfig", cluster.kubeconfig, *args], capture_output=True,
                          text=True, timeout=120)


def test_crd_yaml_matches_the_code():
    shipped = (DEPLOY / "crd-taskaction.yaml").read_text()
    assert shipped == _crd.crd_yaml(), (
        "deploy/kubernetes/crd-taskaction.yaml is stale: regenerate it with python -c "
        "\"from flyte_jupyter.backend.plugins.k8s.crd import crd_yaml; "
        "open('deploy/kubernetes/crd-taskaction.yaml','w').write(crd_yaml())\"")


def test_manifests_pass_server_side_dry_run(k8s_cluster):
    # Namespaced objects can only be dry-run into an existing namespace: create that one for real.
    r = _kubectl(k8s_cluster, "apply", "-f", str(DEPLOY / "namespace.yaml"))
    assert r.returncode == 0, r.stderr
    r = _kubectl(k8s_cluster, "apply", "--dry-run=server", "-f", str(DEPLOY))
    assert r.returncode == 0, r.stderr
    kinds = {line.split("/")[0] for line in r.stdout.splitlines() if "(server dry run)" in line}
    expected = {f"{d['kind'].lower()}" for f in DEPLOY.glob("*.yaml")
                for d in yaml.safe_load_all(f.read_text()) if d}
    assert {k.split(".")[0] for k in kinds} == expected, r.stdout


def _can(api_client, verb: str, resource: str, namespace: str | None = None, sub: str | None = None,
         group: str = "", name: str | None = None) -> bool:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": SA, "groups": ["system:serviceaccounts", "system:serviceaccounts:flyte-jupyter"],
                       "resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                              **({"namespace": namespace} if namespace else {}),
                                              **({"subresource": sub} if sub else {}),
                                              **({"name": name} if name else {})}}}
    return client.AuthorizationV1Api(api_client).create_subject_access_review(review).status.allowed


def test_rbac_limits_writes_to_action_namespaces(k8s_cluster, api_client):
    for f in ("namespace.yaml", "serviceaccount.yaml", "rbac.yaml"):
        r = _kubectl(k8s_cluster, "apply", "-f", str(DEPLOY / f))
        assert r.returncode == 0, r.stderr
    # cluster-wide: one watch over the executor's pods, namespace creation; no pod writes anywhere
    assert _can(api_client, "watch", "pods")
    assert _can(api_client, "create", "namespaces")
    assert not _can(api_client, "create", "pods", "kube-system")
    assert not _can(api_client, "get", "secrets", "kube-system")
    assert not _can(api_client, "delete", "namespaces")
    # in an action namespace, once the backend has bound flyte-jupyter-actions there
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": "rbacproj-development"}})
    assert not _can(api_client, "create", "pods", "rbacproj-development")
    client.RbacAuthorizationV1Api(api_client).create_namespaced_role_binding("rbacproj-development", {
        "metadata": {"name": "flyte-jupyter-actions"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "flyte-jupyter-actions"},
        "subjects": [{"kind": "ServiceAccount", "name": "flyte-jupyter-backend", "namespace": "flyte-jupyter"}]})
    assert _can(api_client, "create", "pods", "rbacproj-development")
    assert _can(api_client, "get", "pods", "rbacproj-development", sub="log")
    assert _can(api_client, "patch", "taskactions", "rbacproj-development", sub="status", group=_crd.GROUP)
    # a Dask cluster's scheduler Service (backend/plugins/dask/k8s.py), there only
    assert _can(api_client, "create", "services", "rbacproj-development")
    assert _can(api_client, "delete", "services", "rbacproj-development", name="dask-a0")
    assert not _can(api_client, "create", "services", "kube-system")
    assert not _can(api_client, "patch", "services", "rbacproj-development")
    assert not _can(api_client, "get", "secrets", "rbacproj-development")
    # secrets: only the token Secret may be read or updated; create cannot be limited by name
    ns, token = "rbacproj-development", "flyte-jupyter-token"
    assert _can(api_client, "get", "secrets", ns, name=token) and _can(api_client, "update", "secrets", ns, name=token)
    assert _can(api_client, "create", "secrets", ns)
    for verb in ("get", "update", "delete", "patch"):
        assert not _can(api_client, verb, "secrets", ns, name="someone-elses-secret"), verb
    for verb in ("list", "watch", "delete"):
        assert not _can(api_client, verb, "secrets", ns), verb
    assert not _can(api_client, "create", "secrets", "kube-system")
