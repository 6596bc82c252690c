"""Credentials and the API client: kubeconfig or in-cluster, with a pool sized for many calls at once."""

from __future__ import annotations

import os
from typing import Any

from flyte_jupyter.backend.plugins.k8s.config import K8sSettings


def make_api_client(settings: K8sSettings) -> Any:
    """An ``ApiClient`` from the settings; the error names what was tried and how to fix it."""
    from kubernetes import client, config

    cfg = client.Configuration()
    use_cluster = settings.in_cluster or (not settings.kubeconfig and "KUBERNETES_SERVICE_HOST" in os.environ)
    try:
        if use_cluster:
            config.load_incluster_config(client_configuration=cfg)
        else:
            config.load_kube_config(config_file=settings.kubeconfig, context=settings.context,
                                    client_configuration=cfg, persist_config=False)
    except Exception as e:
        where = "in-cluster service account" if use_cluster else f"kubeconfig {settings.kubeconfig or '~/.kube/config'}"
        raise RuntimeError(
            f"the Kubernetes executor cannot load credentials from the {where}: {e}. Set "
            f"executor_config.kubeconfig to a kubeconfig file, or in_cluster: true when the backend runs in a pod"
        ) from e
    cfg.connection_pool_maxsize = 64
    return client.ApiClient(cfg)
