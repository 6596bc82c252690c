"""The pod of one attempt: built from the launch spec, the settings and Flyte-style pod templates.

A pod template (Flyte's ``PodTemplate``) is a partial pod: ``pod_spec`` (a PodSpec in Kubernetes'
JSON form), ``primary_container_name`` (default "primary"), ``labels`` and ``annotations``. The
template's container with the primary name gives the defaults of the task's container (volume mounts,
security context, ...); its other containers run as sidecars; pod-level fields (node selector,
tolerations, volumes, ...) are kept. What the task itself says wins: image, command, resources, env.
The backend-wide template from the settings applies first, the task's own on top of it.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from flyte_jupyter._internal.runtime import raw_container as raw
from flyte_jupyter._internal.runtime import usage
from flyte_jupyter.backend.plugins.k8s import names as n
from flyte_jupyter.backend.plugins.k8s import secret as _secret
from flyte_jupyter.backend.plugins.k8s import user_secrets as _user_secrets
from flyte_jupyter.backend.plugins.k8s.config import K8sSettings

_NAMED_LISTS = {"containers", "initContainers", "env", "volumes", "volumeMounts", "ports"}


def _merge(base: Any, over: Any, key: str = "") -> Any:
    """Deep merge: dicts by key, lists of named objects by name, anything else replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    if key in _NAMED_LISTS and isinstance(base, list) and isinstance(over, list):
        merged = [copy.deepcopy(x) for x in base]
        index = {x.get("name"): i for i, x in enumerate(merged) if isinstance(x, dict)}
        for item in over:
            name = item.get("name") if isinstance(item, dict) else None
            if name is not None and name in index:
                # an env var is value or valueFrom: the later one replaces, never mixes both
                merged[index[name]] = copy.deepcopy(item) if key == "env" else _merge(merged[index[name]], item, "")
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(over)


def _normalize_template(t: dict[str, Any] | None) -> dict[str, Any]:
    """Accept snake_case (Python) or camelCase (Kubernetes JSON) template keys."""
    if not t:
        return {}
    return {
        "podSpec": t.get("pod_spec") or t.get("podSpec") or t.get("spec") or {},
        "primary": t.get("primary_container_name") or t.get("primaryContainerName") or n.CONTAINER,
        "labels": dict(t.get("labels") or (t.get("metadata") or {}).get("labels") or {}),
        "annotations": dict(t.get("annotations") or (t.get("metadata") or {}).get("annotations") or {}),
    }


def _cpu(cores: float) -> str:
    return f"{max(1, math.ceil(cores * 1000))}m"


_LOCAL_PREFIXES = ("/", "file:", "./", "../", "~")


def is_local_image(image: str) -> bool:
    """True for what the local image builder produces: a virtual-environment path, not an image."""
    return image.startswith(_LOCAL_PREFIXES)


def pod_image(spec_image: str, settings: K8sSettings, task: str = "") -> str:
    """The container image of a task's pods; a local venv reference is refused, never swapped.

    Silently running another image than the one the task was built for would hide missing packages
    until the action fails in an unrelated way, so the error names the image and how to build one.
    """
    image = (spec_image or "").strip()
    if not image or image == "auto":
        return settings.default_image
    if is_local_image(image):
        what = f"task {task} has" if task else "the task has"
        raise ValueError(
            f"{what} the image {image!r}, a local virtual environment made by the local image builder; "
            f"the Kubernetes executor runs actions as pods and needs a container image. Build the image "
            f"with the Docker builder: `flyte-jupyter image build FILE --builder docker`, or set "
            f"FLYTE_JUPYTER_IMAGE_BUILDER=docker before running (image=\"auto\" runs the backend's default "
            f"image {settings.default_image})")
    return image


def check_raw_task(config: raw.RawConfig, task: str = "") -> None:
    """What a raw-container task (`ContainerTask`) may be on Kubernetes: a container image, at most
    one output, no File. A pod's inputs are its templated command and files from the pod's own
    annotations (a downward-API volume); its one output is read back as the container's termination
    message (``terminationMessagePath`` = the output's file), so no sidecar or helper image is needed."""
    what = f"container task {task}" if task else "the container task"
    if config.local:
        raise ValueError(f"{what} has image='local' (its command on the backend's host), which the Kubernetes executor "
                         "cannot run: give it a container image")
    if len(config.outputs) > 1 or "File" in config.outputs.values() or "File" in config.inputs.values():
        raise ValueError(f"{what} declares {len(config.outputs)} outputs and inputs {config.inputs}; on Kubernetes a "
                         "ContainerTask takes scalar inputs and returns at most one scalar output (read from the "
                         "container's termination message): split it, or run it on the docker or local executor")


def _raw_container(config: raw.RawConfig, rendered: dict[str, str], spec: Any,
                   annotations: dict[str, str], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    """The primary container of a raw-container pod (see `check_raw_task`)."""
    check_raw_task(config, spec.task_name)
    image = config.image_for(spec.image)
    if not image or is_local_image(image):
        raise ValueError(f"container task {spec.task_name} has no container image to run ({image!r})")
    mounts: list[dict[str, Any]] = [{"name": "flyte-outputs", "mountPath": config.output_data_dir}]
    volumes.append({"name": "flyte-outputs", "emptyDir": {}})
    if config.inputs:
        items = []
        for i, name in enumerate(config.inputs):
            annotations[f"flyte-jupyter.io/input-{i}"] = rendered[name]
            items.append({"path": name, "fieldRef": {"fieldPath": f"metadata.annotations['flyte-jupyter.io/input-{i}']"}})
        volumes.append({"name": "flyte-inputs", "downwardAPI": {"items": items}})
        mounts.append({"name": "flyte-inputs", "mountPath": config.input_data_dir, "readOnly": True})
    container: dict[str, Any] = {
        "name": n.CONTAINER, "image": image, "command": raw.render_command(config, rendered),
        # the task's own env only: a raw container never talks to the backend, so it gets no credential
        "env": sorted(({"name": k, "value": str(v)} for k, v in raw.task_env(spec.env or {}).items()),
                      key=lambda e: e["name"]),
        "volumeMounts": mounts,
    }
    if config.outputs:
        container["terminationMessagePath"] = f"{config.output_data_dir}/{next(iter(config.outputs))}"
        container["terminationMessagePolicy"] = "File"
    else:
        container["terminationMessagePolicy"] = "FallbackToLogsOnError"
    return container


def build_pod(spec: Any, settings: K8sSettings, namespace: str, endpoint: str,
              raw_task: tuple[raw.RawConfig, dict[str, str]] | None = None) -> dict[str, Any]:
    """The pod manifest for one attempt of ``spec`` (a LaunchSpec); ``raw_task`` (config, rendered
    inputs) for a raw-container task."""
    templates = [_normalize_template(settings.pod_template),
                 _normalize_template((spec.custom or {}).get("pod_template"))]
    pod_spec: dict[str, Any] = {}
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    primary = n.CONTAINER
    for t in templates:
        if not t:
            continue
        pod_spec = _merge(pod_spec, t["podSpec"])
        labels.update(t["labels"])
        annotations.update(t["annotations"])
        primary = t["primary"]

    env = dict(settings.env)
    env.update(spec.env or {})
    env[usage.REPORT_ENV] = "1"  # the attempt reports its CPU and peak memory: the backend cannot see it
    if settings.backend_endpoint:  # pods may need another address than local processes
        env["FLYTE_JUPYTER_ENDPOINT"] = settings.backend_endpoint
    env, secret_keys = _secret.split_env(env)  # the run's credential: by reference to the namespace's Secret
    secret_env, secret_volumes, secret_mounts = _user_secrets.pod_parts(spec, settings)  # the task's own secrets, by reference
    resources: dict[str, dict[str, str]] = {}
    if spec.cpu:
        resources.setdefault("limits", {})["cpu"] = _cpu(spec.cpu)
    if spec.cpu_request or spec.cpu:  # a pod's request: the task's, else its limit
        resources.setdefault("requests", {})["cpu"] = _cpu(spec.cpu_request or spec.cpu)
    if spec.memory_bytes:
        resources.setdefault("limits", {})["memory"] = str(int(spec.memory_bytes))
    if spec.memory_request or spec.memory_bytes:
        resources.setdefault("requests", {})["memory"] = str(int(spec.memory_request or spec.memory_bytes or 0))
    if spec.gpu:
        resources.setdefault("limits", {})["nvidia.com/gpu"] = str(int(spec.gpu))
    raw_volumes: list[dict[str, Any]] = []
    container: dict[str, Any]
    if raw_task is not None:
        container = {**_raw_container(*raw_task, spec, annotations, raw_volumes), "name": primary}
    else:
        container = {
            "name": primary,
            "image": pod_image(spec.image, settings, spec.task_name),
            "command": [settings.python, *spec.entrypoint_command],
            "env": sorted([{"name": k, "value": str(v)} for k, v in env.items()]
                          + _secret.env_refs(_secret.secret_name(settings), secret_keys) + secret_env,
                          key=lambda e: e["name"]),
            "terminationMessagePolicy": "FallbackToLogsOnError",
        }
    if resources:
        container["resources"] = resources
    if secret_mounts:
        container["volumeMounts"] = secret_mounts
    if settings.image_pull_policy:
        container["imagePullPolicy"] = settings.image_pull_policy

    containers = list(pod_spec.get("containers") or [])
    for i, c in enumerate(containers):
        if c.get("name") == primary:
            merged = _merge(c, container)
            merged.pop("args", None)  # the entrypoint's args are all in command
            containers[i] = merged
            containers.insert(0, containers.pop(i))
            break
    else:
        containers.insert(0, container)
    pod_spec["containers"] = containers
    if secret_volumes:
        pod_spec["volumes"] = _merge(pod_spec.get("volumes") or [], secret_volumes, "volumes")
    if raw_volumes:
        pod_spec["volumes"] = [*pod_spec.get("volumes", []), *raw_volumes]
    pod_spec["restartPolicy"] = "Never"  # retries are attempts, each its own pod
    if spec.timeout:
        pod_spec["activeDeadlineSeconds"] = int(math.ceil(spec.timeout + settings.deadline_grace_seconds))
    if settings.service_account and "serviceAccountName" not in pod_spec:
        pod_spec["serviceAccountName"] = settings.service_account
    pod_spec.setdefault("automountServiceAccountToken", False)  # actions talk to the backend, not the API

    labels.update({
        n.MANAGED_BY: n.MANAGER,
        n.L_INSTANCE: n.label_value(settings.instance),
        n.L_RUN: n.label_value(spec.run_name),
        n.L_ACTION: n.label_value(spec.action_name),
        n.L_ATTEMPT: str(spec.attempt),
        n.L_TASK: n.label_value(spec.task_name or "unknown"),
        n.L_PROJECT: n.label_value(spec.project),
        n.L_DOMAIN: n.label_value(spec.domain),
        n.L_TASKACTION: n.taskaction_name(spec.run_name, spec.action_name),
    })
    annotations.update({n.A_RUN: spec.run_name, n.A_ACTION: spec.action_name, n.A_TASK: spec.task_name})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": n.pod_name(spec.run_name, spec.action_name, spec.attempt),
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": pod_spec,
    }
