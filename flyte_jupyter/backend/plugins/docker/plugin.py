"""The Docker executor plugin: every attempt of a Python task runs as a container of its image.

Selected by the backend config ``executor: docker``; ``executor_config`` may hold ``docker_host``
(else ``$DOCKER_HOST``), ``cli`` ("docker" or "podman"), ``python`` (the image's interpreter,
"python"), ``default_image`` (for environments with ``image="auto"``), ``network`` ("host", the
default: containers reach the backend's loopback gRPC server for nested calls) and
``stop_grace_seconds``. A user without Kubernetes gets the isolation of a cluster: the image's own
packages, CPU and memory limits (OOM reported as OOM), abort as ``docker stop``.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from flyte_jupyter.backend.executor.plugin import (
    ExecutorPlugin,
    LaunchSpec,
    LogLine,
    Outcome,
    PluginConfig,
    StatusCallback,
)
from flyte_jupyter.backend.plugins.docker.containers import Containers, exited_outcome, instance_of
from flyte_jupyter.backend.plugins.docker.engine import DockerEngine
from flyte_jupyter.backend.plugins.docker.runargs import entrypoint_args, settings_network
from flyte_jupyter.backend.plugins.k8s.podspec import is_local_image
from flyte_jupyter.backend.plugins.logfiles import follow_log_files


def engine_from(settings: dict[str, Any]) -> DockerEngine:
    """The engine the settings name (``cli``, ``docker_host``), else the environment's."""
    return DockerEngine(cli=settings.get("cli") or None, host=settings.get("docker_host") or None)


class DockerPlugin(ExecutorPlugin):
    """Runs each attempt as a container (see the module docstring)."""

    name = "docker"
    task_types = ("python",)
    reports_progress = True

    def __init__(self, config: PluginConfig, engine: DockerEngine | None = None) -> None:
        self.config = config
        self.settings = dict(config.settings)
        self.engine = engine or engine_from(self.settings)
        self.python = str(self.settings.get("python", "python"))
        self.default_image = str(self.settings.get("default_image", ""))
        self.network = settings_network(self.settings)
        self.containers = Containers(self.engine, instance_of(str(config.data_dir)), self.name, self._finish,
                                     float(self.settings.get("stop_grace_seconds", 5.0)))

    async def start(self) -> None:
        self.engine.require()

    async def close(self) -> None:
        await self.containers.close()

    def image_for(self, image: str, task: str = "") -> str:
        """The container image of a task; a clear error for what is not one."""
        image = (image or "").strip()
        if not image or image == "auto":
            if self.default_image:
                return self.default_image
            raise ValueError(
                f"task {task or '?'} has image='auto' but the docker executor runs every action as a container: "
                "give its environment an image built by the Docker builder (FLYTE_JUPYTER_IMAGE_BUILDER=docker), "
                "or set executor_config default_image")
        if is_local_image(image):
            raise ValueError(
                f"task {task or '?'} has the image {image!r}, a local virtual environment; the docker executor needs a "
                "container image: build it with the Docker builder (`flyte-jupyter image build FILE --builder docker` "
                "or FLYTE_JUPYTER_IMAGE_BUILDER=docker)")
        return image

    def check_task(self, task: Any) -> None:
        """Refuse, before a run is created, a task this executor cannot run (see `image_for`)."""
        self.image_for(getattr(task, "image", "") or "", getattr(getattr(task, "id", None), "name", ""))

    async def launch(self, spec: LaunchSpec, on_status: StatusCallback) -> str:
        image = self.image_for(spec.image, spec.task_name)
        env = {**spec.env, "PYTHONUNBUFFERED": "1"}
        return await self.containers.start(spec, on_status, entrypoint_args(spec, image, self.python, self.network), env)

    async def _finish(self, spec: LaunchSpec, state: dict[str, Any], aborted: bool) -> Outcome:
        return exited_outcome(state, spec, aborted)

    async def abort(self, handle: str, spec: LaunchSpec, reason: str = "") -> None:
        await self.containers.abort(handle)

    async def recover(self, spec: LaunchSpec, handle: str, on_status: StatusCallback) -> bool:
        return await self.containers.recover(spec, handle, on_status)

    async def locate(self, spec: LaunchSpec) -> str | None:
        return await self.containers.locate(spec)

    async def recovered(self) -> None:
        await self.containers.sweep()

    async def logs(self, spec: LaunchSpec, handle: str | None, follow: bool = False) -> AsyncIterator[LogLine]:
        async for line in follow_log_files(spec, lambda: self.containers.is_live(handle), follow):
            yield line

    def describe(self) -> dict[str, Any]:
        version, why = self.engine.probe()
        return {**super().describe(), "engine": version or f"unavailable: {why}", "host": self.engine.host,
                "running": self.containers.count()}
