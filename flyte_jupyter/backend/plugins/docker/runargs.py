"""`docker run` arguments for one attempt: mounts, network, resources, working directory, command.

What a container must see to run an action as a pod would: the attempt's working directory and the
backend's storage root bind-mounted at the same paths (inputs, outputs and the code bundle are
plain paths there), the backend's gRPC endpoint (host networking: the backend listens on loopback),
``--cpus`` and ``--memory`` (swap off, so crossing the limit is an OOM kill, never a slowdown).
"""

from __future__ import annotations

import os
from typing import Any

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter.backend.executor.plugin import LaunchSpec

NETWORKS = ("host", "none", "bridge")


def settings_network(settings: dict[str, Any]) -> str:
    network = str(settings.get("network", "host"))
    if network not in NETWORKS:
        raise ValueError(f"executor_config network must be one of {', '.join(NETWORKS)}, got {network!r}")
    return network


def resource_args(spec: LaunchSpec) -> list[str]:
    """Limits as hard caps; a request below its limit as the kubelet maps it: CPU shares (1024 per
    core) and a memory reservation."""
    args: list[str] = []
    if spec.cpu:
        args += ["--cpus", f"{spec.cpu:g}"]
    if spec.cpu_request:
        args += ["--cpu-shares", str(max(2, int(spec.cpu_request * 1024)))]
    if spec.memory_bytes:
        args += ["--memory", str(int(spec.memory_bytes)), "--memory-swap", str(int(spec.memory_bytes))]
    if spec.memory_request:
        args += ["--memory-reservation", str(int(spec.memory_request))]
    if spec.gpu:
        args += ["--gpus", str(int(spec.gpu))]
    return args


def bind(host: str, container: str, read_only: bool = False) -> list[str]:
    """A bind mount; `--mount` (not `-v`) so a path with ':' or ',' is refused, never misread."""
    for path in (host, container):
        if "," in path or "\n" in path:
            raise ValueError(f"cannot bind-mount {path!r} into a container: the path contains ',' or a newline")
    return ["--mount", f"type=bind,source={host},target={container}" + (",readonly" if read_only else "")]


def storage_mounts(spec: LaunchSpec) -> list[str]:
    """The storage root (a local path: bound at the same path) and the TLS CA file, if any."""
    args: list[str] = []
    root = spec.env.get("FLYTE_JUPYTER_STORAGE_ROOT", "")
    if root and _storage.is_local(root):
        path = os.path.realpath(_storage.local_path(root))
        os.makedirs(path, exist_ok=True)
        args += bind(path, path)
    ca = spec.env.get("FLYTE_JUPYTER_CA_CERT", "")
    if ca and os.path.isfile(ca):
        args += bind(ca, ca, read_only=True)
    return args


def entrypoint_args(spec: LaunchSpec, image: str, python: str, network: str) -> list[str]:
    """Everything after `docker run -d --name --label -e` for a Python action: the entrypoint
    command as a pod runs it, in the attempt's working directory."""
    os.makedirs(spec.workdir, exist_ok=True)
    return [
        "--network", network, *resource_args(spec), *storage_mounts(spec), *bind(spec.workdir, spec.workdir),
        "-w", spec.workdir, "--entrypoint", python, image, *spec.entrypoint_command,
    ]
