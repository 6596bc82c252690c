"""The TaskAction custom resource: one per queued action, the unit the Kubernetes controller reconciles.

Why a CRD: the queue becomes visible and durable in the cluster (``kubectl get taskactions``), the
controller can be restarted and re-derive its work from the API server, and the status subresource
lets the controller write phases without racing spec updates. This module is the single source of
the definition; ``deploy/kubernetes/crd-taskaction.yaml`` is rendered from it (a test keeps them equal).
"""

from __future__ import annotations

import time
from typing import Any

GROUP = "flyte-jupyter.io"
VERSION = "v1alpha1"
KIND = "TaskAction"
PLURAL = "taskactions"
SINGULAR = "taskaction"
CRD_NAME = f"{PLURAL}.{GROUP}"
API_VERSION = f"{GROUP}/{VERSION}"

PHASES = ["QUEUED", "INITIALIZING", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"]

_STR = {"type": "string"}
_INT = {"type": "integer", "format": "int64"}
_FREE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

_SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["runName", "actionName", "project", "domain"],
    "properties": {
        "runName": _STR,
        "actionName": _STR,
        "parentAction": _STR,
        "project": _STR,
        "domain": _STR,
        "taskType": {"type": "string", "description": "selects the executor plugin", "default": "python-task"},
        "taskName": _STR,
        "attempt": {"type": "integer", "minimum": 1, "default": 1,
                    "description": "the attempt the controller should run; raised by the backend on retry"},
        "abort": {"type": "boolean", "default": False,
                  "description": "set to stop the action: the controller deletes its pod"},
        "abortReason": _STR,
        "task": {**_FREE, "description": "the task spec: image, args, resources, env, podTemplate, timeout"},
    },
}

_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "phase": {"type": "string", "enum": PHASES},
        "attempt": _INT,
        "podName": _STR,
        "reason": _STR,
        "message": _STR,
        "exitCode": _INT,
        "startedAt": {"type": "string", "format": "date-time"},
        "endedAt": {"type": "string", "format": "date-time"},
        "observedGeneration": _INT,
    },
}


def crd_body() -> dict[str, Any]:
    """The CustomResourceDefinition as a plain dict (apiextensions.k8s.io/v1, available since 1.16)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME, "labels": {"app.kubernetes.io/part-of": "flyte-jupyter"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": KIND, "plural": PLURAL, "singular": SINGULAR, "listKind": f"{KIND}List",
                      "shortNames": ["ta"], "categories": ["flyte-jupyter"]},
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Run", "type": "string", "jsonPath": ".spec.runName"},
                    {"name": "Action", "type": "string", "jsonPath": ".spec.actionName"},
                    {"name": "Attempt", "type": "integer", "jsonPath": ".status.attempt"},
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    {"name": "Pod", "type": "string", "jsonPath": ".status.podName", "priority": 1},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "One action of a flyte-jupyter run, executed by the Kubernetes executor.",
                    "properties": {
                        "apiVersion": _STR, "kind": _STR, "metadata": {"type": "object"},
                        "spec": _SPEC_SCHEMA, "status": _STATUS_SCHEMA,
                    },
                }},
            }],
        },
    }


def crd_yaml() -> str:
    """The CRD as the YAML document shipped in deploy/kubernetes/."""
    import yaml

    header = ("# Generated from flyte_jupyter/backend/k8s/_crd.py (tests/k8s/test_manifests.py keeps them equal).\n"
              "# The TaskAction custom resource: one per queued action of the Kubernetes executor.\n")
    return header + yaml.safe_dump(crd_body(), sort_keys=False)


def install_crd(api_client: Any, *, timeout: float = 30.0) -> None:
    """Create or update the CRD and wait until the API server serves it.

    The backend calls this at start so that a fresh cluster needs no manual step; in a locked-down
    cluster the service account may not manage CRDs, and then an admin applies
    deploy/kubernetes/crd-taskaction.yaml instead (the error says so).
    """
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    api = client.ApiextensionsV1Api(api_client)
    body = crd_body()
    try:
        current = api.read_custom_resource_definition(CRD_NAME)
    except ApiException as e:
        if e.status == 403:
            raise PermissionError(_forbidden(e)) from e
        if e.status != 404:
            raise
        current = None
    try:
        if current is None:
            try:
                api.create_custom_resource_definition(body)  # type: ignore[arg-type]  # the client takes a dict body
            except ApiException as e:
                if e.status != 409:
                    raise
        elif api_client.sanitize_for_serialization(current.spec).get("versions") != body["spec"]["versions"]:
            body["metadata"]["resourceVersion"] = current.metadata.resource_version  # type: ignore[union-attr]  # a read CRD has metadata
            api.replace_custom_resource_definition(CRD_NAME, body)  # type: ignore[arg-type]  # the client takes a dict body
    except ApiException as e:
        if e.status == 403:
            raise PermissionError(_forbidden(e)) from e
        raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = api.read_custom_resource_definition(CRD_NAME)
        conds = {c.type: c.status for c in (crd.status.conditions or [])} if crd.status else {}
        if conds.get("Established") == "True":
            return
        time.sleep(0.2)
    raise TimeoutError(f"CRD {CRD_NAME} was created but not Established after {timeout:.0f}s; "
                       f"check the API server log")


def _forbidden(e: Exception) -> str:
    return (f"the Kubernetes executor may not install the {CRD_NAME} CRD ({e}); apply "
            f"deploy/kubernetes/crd-taskaction.yaml as a cluster admin, or grant the backend's service "
            f"account get/create/update on customresourcedefinitions")
