"""Settings of the Kubernetes executor, read from the backend's ``executor_config``.

Every knob has a default that works for a single-namespace test cluster; unknown keys are refused
with the list of valid ones, since a typo would otherwise silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class K8sSettings:
    #: Path of a kubeconfig file; None = in-cluster credentials when running in a pod, else ~/.kube/config.
    kubeconfig: str | None = None
    #: Context in the kubeconfig (default: its current-context).
    context: str | None = None
    #: Force in-cluster credentials (the service account of the backend's pod).
    in_cluster: bool = False
    #: Namespace of an action's TaskAction and pod; created when missing.
    namespace_template: str = "{project}-{domain}"
    #: Image for tasks whose spec names none ("auto"); a local virtual environment is refused.
    default_image: str = "flyte-jupyter:0.1.0"
    #: The interpreter inside the image that runs ``-m flyte_jupyter.entrypoint``.
    python: str = "python"
    #: Service account of action pods (None: the namespace's default).
    service_account: str | None = None
    #: Flyte-style pod template applied to every action pod (the task's own pod_template wins).
    pod_template: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Backend endpoint as pods dial it (FLYTE_JUPYTER_ENDPOINT); None: the backend's endpoint_for_actions.
    backend_endpoint: str | None = None
    #: Extra environment for every action pod.
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The Secret (one per action namespace, written by the executor) that holds the backend token the
    #: pods read through ``secretKeyRef``. "" = ``flyte-jupyter-token`` (``-<instance>`` appended for a
    #: non-default instance, so that two backends on one cluster never overwrite each other's token).
    token_secret_name: str = ""
    #: Cleanup policy: delete succeeded pods this long after they end (0 = at once, <0 = never).
    delete_succeeded_after_seconds: float = 60.0
    #: Keep failed pods for debugging this long (<0 = never delete).
    delete_failed_after_seconds: float = 86400.0
    #: A pod that cannot pull its image fails after this long (Flyte waits 3 minutes too).
    image_pull_grace_seconds: float = 180.0
    #: ``activeDeadlineSeconds`` = task timeout + this: a second line behind the backend's own timeout.
    deadline_grace_seconds: float = 30.0
    #: Grace period given to an aborted pod before it is killed.
    abort_grace_seconds: int = 5
    #: Create or update the TaskAction CRD at start (needs CRD rights; else an admin applies the YAML).
    install_crd: bool = True
    #: Distinguishes several backends on one cluster: only pods and TaskActions with this label are ours.
    instance: str = "default"
    #: When set ("namespace/name"), bind this service account to ``action_role`` in every namespace the
    #: executor creates, so the backend's write access stays limited to action namespaces.
    bind_service_account: str | None = None
    #: The ClusterRole bound in action namespaces (see deploy/kubernetes/rbac.yaml).
    action_role: str = "flyte-jupyter-actions"
    #: imagePullPolicy of action containers (None: Kubernetes' default for the tag).
    image_pull_policy: str | None = None
    #: Seconds a watch request stays open before it is renewed (from its resourceVersion).
    watch_timeout_seconds: int = 240

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "K8sSettings":
        """Validate ``executor_config``; unknown keys are an error naming the valid ones."""
        data = dict(data or {})
        data.pop("plugin", None)
        nested = data.pop("kubernetes", None)  # allow {"kubernetes": {...}} as well as a flat dict
        if isinstance(nested, dict):
            data.update(nested)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"unknown Kubernetes executor setting(s) {unknown}; valid settings are {sorted(names)}"
            )
        return cls(**data)
