"""Secret env vars of action pods: kept in a Kubernetes Secret, referenced by ``secretKeyRef``.

Why: the backend token reaches every attempt as ``FLYTE_JUPYTER_TOKEN`` in ``LaunchSpec.env``. Put in
the pod's env as a value it would be readable by anyone who may read pods or TaskActions (``kubectl
get pod -o yaml``), and copied into events and logs. Instead the executor writes the value into one
Secret per action namespace (created or updated on first use, labelled as the executor's) and the
pod's env only names the Secret and key; the kubelet resolves it when the container starts.
"""

from __future__ import annotations

import base64
from typing import Any

from flyte_jupyter.backend.plugins.k8s import names as n
from flyte_jupyter.backend.plugins.k8s.config import K8sSettings

#: Env vars that never appear as values in a pod or TaskAction: env name -> key in the Secret.
SECRET_ENV: dict[str, str] = {"FLYTE_JUPYTER_TOKEN": "token"}

DEFAULT_NAME = "flyte-jupyter-token"


def secret_name(settings: K8sSettings) -> str:
    """The Secret's name in every action namespace (see ``K8sSettings.token_secret_name``)."""
    if settings.token_secret_name:
        return settings.token_secret_name
    if settings.instance == "default":
        return DEFAULT_NAME
    return n.dns_label(f"{DEFAULT_NAME}-{settings.instance}", max_len=253)


def split_env(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(plain env, secret values by Secret key); an empty secret value is dropped, not stored."""
    plain: dict[str, str] = {}
    secret: dict[str, str] = {}
    for name, value in env.items():
        key = SECRET_ENV.get(name)
        if key is None:
            plain[name] = value
        elif value:
            secret[key] = str(value)
    return plain, secret


def env_refs(secret: str, keys: dict[str, str]) -> list[dict[str, Any]]:
    """Pod env entries that read ``keys`` (Secret keys) from the Secret ``secret``."""
    return [{"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for name, key in SECRET_ENV.items() if key in keys]


def secret_body(name: str, namespace: str, data: dict[str, str], settings: K8sSettings) -> dict[str, Any]:
    """The Secret manifest (``data`` base64-encoded, as the API stores it)."""
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {n.MANAGED_BY: n.MANAGER, n.L_INSTANCE: n.label_value(settings.instance)}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())},
    }


def decoded(secret: Any) -> dict[str, str]:
    """The data of a Secret read back from the API (a V1Secret or a dict), decoded."""
    data = secret.get("data") if isinstance(secret, dict) else getattr(secret, "data", None)
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in (data or {}).items()}
