"""The Kubernetes executor: actions as pods, driven by TaskAction custom resources.

Selected by the backend config ``executor: kubernetes`` with ``executor_config`` holding the settings
of :class:`K8sSettings` (kubeconfig or in-cluster credentials, namespace template, default image,
service account, pod template, cleanup policy). Importing this package does not import the
``kubernetes`` client; starting the plugin does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte_jupyter.backend.plugins.k8s.config import K8sSettings

if TYPE_CHECKING:
    from flyte_jupyter.backend.executor.plugin import PluginConfig
    from flyte_jupyter.backend.plugins.k8s.plugin import KubernetesPlugin

__all__ = ["K8sSettings", "KubernetesPlugin", "create_plugin"]


def create_plugin(config: "PluginConfig") -> "KubernetesPlugin":
    """Factory named by the `flyte_jupyter.executor_plugins` entry point `kubernetes`."""
    from flyte_jupyter.backend.plugins.k8s.plugin import KubernetesPlugin

    return KubernetesPlugin(config)


def __getattr__(name: str) -> Any:
    if name == "KubernetesPlugin":
        from flyte_jupyter.backend.plugins.k8s.plugin import KubernetesPlugin

        return KubernetesPlugin
    raise AttributeError(name)
