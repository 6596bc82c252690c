"""One action's Dask cluster on Kubernetes: a scheduler pod, a service in front of it, worker pods.

Built beside the Kubernetes executor (the dask plugin's runner), in the action's namespace. The
pods carry labels of their own (`flyte-jupyter.io/dask-cluster`), not the executor's, so the
executor's pod watch never takes them for attempts. They are deleted when the action ends, is
aborted or times out; they outlive a backend restart, and the recovered action's end deletes them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flyte_jupyter._internal.wire.quantities import parse_cpu
from flyte_jupyter.backend.plugins.k8s import names as n
from flyte_jupyter.backend.plugins.k8s.podspec import pod_image

SCHEDULER_PORT = 8786
DASHBOARD_PORT = 8787
L_CLUSTER = f"{n.GROUP}/dask-cluster"
L_ROLE = f"{n.GROUP}/dask-role"
MANAGER = "flyte-jupyter-dask"


@dataclasses.dataclass(frozen=True)
class K8sClusterPlan:
    """What build() makes of a dask attempt on Kubernetes: the manifests and the address."""

    namespace: str
    name: str
    service: dict[str, Any]
    pods: tuple[dict[str, Any], ...]

    @property
    def address(self) -> str:
        return f"tcp://{self.name}.{self.namespace}.svc:{SCHEDULER_PORT}"


def _resources(res: dict[str, str]) -> dict[str, Any]:
    limits = {k: v for k, v in res.items() if k in ("cpu", "memory") and v}
    if res.get("gpu"):
        limits["nvidia.com/gpu"] = res["gpu"]
    return {"limits": limits, "requests": dict(limits)} if limits else {}


def _pod(name: str, ns: str, labels: dict[str, str], image: str, command: list[str], res: dict[str, str],
         settings: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "dask", "image": image, "command": command}
    if _resources(res):
        container["resources"] = _resources(res)
    if settings.image_pull_policy:
        container["imagePullPolicy"] = settings.image_pull_policy
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [container], "restartPolicy": "Never", "automountServiceAccountToken": False}}


def build(spec: Any, settings: Any, ns: str, workers: int) -> K8sClusterPlan:
    """The cluster's manifests for one attempt (pure: recovery builds them again to delete them)."""
    custom = spec.custom or {}
    sched_cfg, worker_cfg = custom.get("scheduler") or {}, custom.get("workers") or {}
    name = n.dns_label(f"dask-{n.pod_name(spec.run_name, spec.action_name, spec.attempt)}", max_len=63)
    base = {"app.kubernetes.io/managed-by": MANAGER, L_CLUSTER: name,
            n.L_RUN: n.label_value(spec.run_name), n.L_ACTION: n.label_value(spec.action_name)}
    sched_image = pod_image(sched_cfg.get("image") or spec.image, settings, spec.task_name)
    worker_image = pod_image(worker_cfg.get("image") or spec.image, settings, spec.task_name)
    scheduler = _pod(f"{name}-scheduler"[:63], ns, {**base, L_ROLE: "scheduler"}, sched_image,
                     [settings.python, "-m", "distributed.cli.dask_scheduler", "--port", str(SCHEDULER_PORT),
                      "--dashboard-address", f":{DASHBOARD_PORT}"], sched_cfg.get("resources") or {}, settings)
    address = f"tcp://{name}.{ns}.svc:{SCHEDULER_PORT}"
    wres = worker_cfg.get("resources") or {}
    threads = str(max(1, int(parse_cpu(wres["cpu"]) or 1))) if wres.get("cpu") else "1"
    pods = [scheduler] + [
        _pod(f"{name}-worker-{i}"[:63], ns, {**base, L_ROLE: "worker"}, worker_image,
             [settings.python, "-m", "distributed.cli.dask_worker", address, "--no-nanny", "--name", f"worker-{i}",
              "--nthreads", threads, "--memory-limit", str(wres.get("memory") or 0)], wres, settings)
        for i in range(workers)]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": base},
               "spec": {"selector": {L_CLUSTER: name, L_ROLE: "scheduler"},
                        "ports": [{"name": "scheduler", "port": SCHEDULER_PORT, "targetPort": SCHEDULER_PORT},
                                  {"name": "dashboard", "port": DASHBOARD_PORT, "targetPort": DASHBOARD_PORT}]}}
    return K8sClusterPlan(ns, name, service, tuple(pods))


class K8sCluster:
    """Creates and deletes one plan's objects through the Kubernetes executor's controller."""

    def __init__(self, controller: Any, plan: K8sClusterPlan) -> None:
        self.ctl = controller
        self.plan = plan
        self.address = plan.address
        self.dashboard = ""  # inside the cluster only: no link a notebook could open

    async def start(self, on_worker_lost: Any = None) -> None:
        """Create the service and the pods (an existing one, from a retried create, is kept)."""
        from kubernetes.client.rest import ApiException

        await self.ctl.ensure_namespace(self.plan.namespace)
        calls = [(self.ctl.core.create_namespaced_service, self.plan.service)]
        calls += [(self.ctl.core.create_namespaced_pod, pod) for pod in self.plan.pods]
        for create, body in calls:
            try:
                await self.ctl.call(create, self.plan.namespace, body)
            except ApiException as e:
                if e.status != 409:
                    raise

    async def stop(self) -> None:
        """Delete the pods (no grace: nothing to save) and the service; gone ones are fine."""
        from kubernetes.client.rest import ApiException

        deletes = [(self.ctl.core.delete_namespaced_pod, pod["metadata"]["name"], {"grace_period_seconds": 0})
                   for pod in self.plan.pods]
        # An older API server answers a service delete with a Status, which the client cannot read
        # as a Service: the raw response is enough (errors still raise).
        deletes.append((self.ctl.core.delete_namespaced_service, self.plan.name, {"_preload_content": False}))
        for delete, name, kwargs in deletes:
            try:
                await self.ctl.call(delete, name, self.plan.namespace, **kwargs)
            except ApiException as e:
                if e.status != 404:
                    raise
