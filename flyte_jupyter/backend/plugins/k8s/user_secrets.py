"""The secrets a task declares, in its pods: kept in one Kubernetes Secret per action namespace
(``flyte-jupyter-secrets``, ``-<instance>`` appended for another instance), one key per stored
secret and project/domain, written by the executor at launch; the pod only refers to its own keys:
an env var by ``secretKeyRef``, a mounted secret as a read-only file (mode 0400) at ``MOUNT/NAME``
(``MOUNT`` default ``/etc/flyte/secrets``) with ``$<ENV>_FILE`` naming it.

So no value is in the pod, the TaskAction, their events or anything ``kubectl get -o yaml`` shows,
and the kubelet gives a container only the keys its pod names. One Secret, not one per secret, so
that the backend's RBAC stays get/update on fixed names (deploy/kubernetes/rbac.yaml). A deleted
secret's key stays in the namespace's Secret until it is overwritten or removed by hand.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

from flyte_jupyter.backend.executor.plugin import LaunchSpec, SecretValue
from flyte_jupyter.backend.plugins.k8s import names as n
from flyte_jupyter.backend.plugins.k8s.config import K8sSettings

DEFAULT_NAME = "flyte-jupyter-secrets"
DEFAULT_MOUNT = "/etc/flyte/secrets"


def secret_name(settings: K8sSettings) -> str:
    if settings.instance == "default":
        return DEFAULT_NAME
    return n.dns_label(f"{DEFAULT_NAME}-{settings.instance}", max_len=253)


def key_of(spec: LaunchSpec, secret: SecretValue) -> str:
    """A Secret key (``[-._a-zA-Z0-9]``), unique per project, domain and secret name."""
    digest = hashlib.sha256(f"{spec.project}\0{spec.domain}\0{secret.name}".encode()).hexdigest()[:12]
    return f"{secret.name[:200]}-{digest}"


def file_path(secret: SecretValue) -> str:
    mount = secret.mount if secret.mount.startswith("/") else posixpath.join(DEFAULT_MOUNT, secret.mount or "")
    return posixpath.join(posixpath.normpath(mount), secret.name)


def data_of(spec: LaunchSpec) -> dict[str, str]:
    """The keys and values the namespace's Secret must hold for this attempt."""
    return {key_of(spec, s): s.value.decode("utf-8", "replace") for s in spec.secrets}


def merged(current: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """Keys of other tasks' secrets stay: their pods may not have started yet."""
    return {**current, **new}


def pod_parts(spec: LaunchSpec, settings: K8sSettings) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                                  list[dict[str, Any]]]:
    """(env entries, volumes, volume mounts of the primary container) for the attempt's secrets."""
    name = secret_name(settings)
    env: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for i, secret in enumerate(spec.secrets):
        key = key_of(spec, secret)
        if not secret.mount:
            env.append({"name": secret.env_var, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}})
            continue
        volume = f"fj-secret-{i}"
        path = file_path(secret)
        volumes.append({"name": volume, "secret": {"secretName": name, "defaultMode": 0o400,
                                                   "items": [{"key": key, "path": secret.name}]}})
        mounts.append({"name": volume, "mountPath": path, "subPath": secret.name, "readOnly": True})
        env.append({"name": f"{secret.env_var}_FILE", "value": path})
    return env, volumes, mounts
