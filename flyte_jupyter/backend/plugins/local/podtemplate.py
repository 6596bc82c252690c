"""A task's pod template on the embedded backend, where there is no pod: what can apply applies.

From the primary container: its env (literal values) under the task's own, and its cpu and memory
(limits, else requests) where the task set none. Everything else (sidecars, volumes, node selectors,
tolerations, labels, the container's image or command, a named template on a cluster) has no meaning
for a local process: `apply` lists those fields so the attempt can say once which it ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flyte_jupyter._internal.wire.quantities import parse_cpu, parse_memory
from flyte_jupyter.backend.executor.plugin import LaunchSpec


def apply(spec: LaunchSpec) -> tuple[LaunchSpec, list[str]]:
    """(the spec with the template's env and resources, the template fields it ignored)."""
    template = spec.custom.get("pod_template")
    if not isinstance(template, dict):
        return spec, []
    ignored: list[str] = []
    if "name" in template:
        ignored.append(f"name ({template['name']!r}: a pod template on a cluster)")
    for key in ("labels", "annotations"):
        if template.get(key):
            ignored.append(key)
    pod = template.get("pod_spec") or {}
    primary_name = template.get("primary_container_name") or "primary"
    primary: dict[str, Any] = {}
    for i, container in enumerate(pod.get("containers") or []):
        if isinstance(container, dict) and container.get("name") == primary_name:
            primary = container
        else:
            name = container.get("name", i) if isinstance(container, dict) else i
            ignored.append(f"pod_spec.containers[{name}] (sidecar)")
    ignored += [f"pod_spec.{key}" for key in sorted(pod) if key != "containers" and pod[key] not in (None, [], {})]
    env: dict[str, str] = {}
    for item in primary.get("env") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and "value" in item:
            env[item["name"]] = str(item["value"])
        elif isinstance(item, dict):
            ignored.append(f"env {item.get('name')!r} (valueFrom)")
    resources = primary.get("resources") or {}
    chosen = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
    changes: dict[str, Any] = {"env": {**env, **spec.env}}
    if spec.cpu is None and chosen.get("cpu"):
        changes["cpu"] = parse_cpu(str(chosen["cpu"]))
    if spec.memory_bytes is None and chosen.get("memory"):
        changes["memory_bytes"] = parse_memory(str(chosen["memory"]))
        changes["memory_text"] = str(chosen["memory"])
    ignored += [f"primary container {key}" for key in sorted(primary)
                if key not in ("name", "env", "resources") and primary[key] not in (None, [], {})]
    return dataclasses.replace(spec, **changes), ignored


def notice(ignored: list[str]) -> str:
    """The one line an attempt's log starts with when its pod template had fields with no effect."""
    return ("the embedded backend applied the pod template's env and resources of the primary container "
            f"and ignored: {', '.join(ignored)} (they apply on Kubernetes)")
