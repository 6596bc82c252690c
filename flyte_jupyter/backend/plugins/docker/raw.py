"""The raw-container plugin (task type "raw-container", `ContainerTask`): a command in its own image.

Whatever the default executor, the backend's registry serves "raw-container" with this plugin
(unless the default one runs raw containers itself, as the Kubernetes plugin does). For every
attempt: the inputs are read from inputs.pb and staged as files in a fresh ``inputs`` directory
of the attempt's working directory, the command is templated (`runtime/raw_container.py`), and

* with a container image: it runs as a container of that image (`containers.py`), the inputs and
  outputs directories bind-mounted at the task's ``input_data_dir`` and ``output_data_dir``;
* with ``image="local"``: it runs on this host as a process (the directories swapped into the
  command), for machines without a container engine. Such a process ends with the backend (a
  restart counts it as lost, and the retry policy decides).

When the command exits 0 the declared outputs are read from the outputs directory into
outputs.pb; a missing or malformed output is recorded as the action's error. A task with an image
but no engine is refused when the run is created, before anything runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from typing import Any, AsyncIterator

from flyte_jupyter._internal.runtime import raw_container as raw
from flyte_jupyter._internal.wire.models import Phase
from flyte_jupyter.backend.executor.plugin import (
    ExecutorPlugin,
    LaunchSpec,
    LogLine,
    Outcome,
    OutcomeKind,
    PluginConfig,
    PluginStatus,
    StatusCallback,
)
from flyte_jupyter.backend.plugins.docker.containers import Containers, exited_outcome, instance_of
from flyte_jupyter.backend.plugins.docker.engine import dying_with_us
from flyte_jupyter.backend.plugins.docker.plugin import engine_from
from flyte_jupyter.backend.plugins.docker.runargs import bind, resource_args, settings_network
from flyte_jupyter.backend.plugins.local.procfs import killpg, start_time
from flyte_jupyter.backend.plugins.logfiles import follow_log_files, log_files

TASK_TYPE = raw.TASK_TYPE
_HOST = "host:"  # handle prefix of a command run on the host: "host:<pid>:<start time>"
_KILL_GRACE_S = 5.0


class RawContainerPlugin(ExecutorPlugin):
    """Runs raw-container attempts (see the module docstring)."""

    name = "raw-container"
    task_types = (TASK_TYPE,)
    reports_progress = True

    def __init__(self, config: PluginConfig) -> None:
        self.settings = dict(config.settings)
        self.engine = engine_from(self.settings)
        self.network = settings_network(self.settings)
        self.containers = Containers(self.engine, instance_of(str(config.data_dir)), self.name, self._finish,
                                     float(self.settings.get("stop_grace_seconds", 5.0)))
        self._hosts: dict[str, tuple[asyncio.subprocess.Process, asyncio.Task]] = {}
        self._aborted: set[str] = set()

    # -- before a run ------------------------------------------------------------------------------

    def check_task(self, task: Any) -> None:
        """Refuse a bad config, or an image when no engine answers, before the run is created."""
        import json

        name = getattr(getattr(task, "id", None), "name", "")
        custom = json.loads(task.custom_json) if getattr(task, "custom_json", "") else {}
        config = raw.RawConfig.from_custom(custom, name)
        if config.local:
            return
        version, why = self.engine.probe()
        if version is None:
            raise ValueError(
                f"container task {name} needs a container engine to run its image {config.image!r}, and none answers "
                f"({self.engine.where()}: {why}); start Docker or Podman (or set DOCKER_HOST), or declare it with "
                "image='local' to run its command on this host")

    # -- an attempt --------------------------------------------------------------------------------

    def _dirs(self, spec: LaunchSpec) -> tuple[str, str]:
        return os.path.join(spec.workdir, "inputs"), os.path.join(spec.workdir, "outputs")

    def _prepare(self, spec: LaunchSpec) -> tuple[raw.RawConfig, list[str]]:
        """Stage the inputs, return the config and the templated command (blocking: in a thread)."""
        config = raw.RawConfig.from_custom(spec.custom, spec.task_name)
        in_dir, out_dir = self._dirs(spec)
        raw.fresh_dir(in_dir)
        raw.fresh_dir(out_dir)
        values = raw.decode_inputs_file(config, raw.launch_arg(spec.args, "--inputs"))
        rendered = raw.stage_inputs(config, values, in_dir)
        command = raw.render_command(config, rendered, (in_dir, out_dir) if config.local else None)
        return config, command

    async def launch(self, spec: LaunchSpec, on_status: StatusCallback) -> str:
        config, command = await asyncio.to_thread(self._prepare, spec)
        if config.local:
            return await self._start_host(spec, on_status, command)
        image = config.image_for(spec.image)
        if not image:
            raise ValueError(f"container task {spec.task_name} has an Image spec but no image was built for it")
        in_dir, out_dir = self._dirs(spec)
        run_args = ["--network", self.network, *resource_args(spec), *bind(in_dir, config.input_data_dir),
                    *bind(out_dir, config.output_data_dir), "--entrypoint", command[0], image, *command[1:]]
        return await self.containers.start(spec, on_status, run_args, raw.task_env(spec.env))

    async def _finish(self, spec: LaunchSpec, state: dict[str, Any], aborted: bool) -> Outcome:
        outcome = exited_outcome(state, spec, aborted)
        if not outcome.succeeded:
            return outcome
        return await asyncio.to_thread(self._collect, spec)

    def _collect(self, spec: LaunchSpec) -> Outcome:
        """outputs.pb from the outputs directory, or error.pb saying which output is wrong."""
        config = raw.RawConfig.from_custom(spec.custom, spec.task_name)
        try:
            values = raw.read_outputs(config, self._dirs(spec)[1], raw.launch_arg(spec.args, "--raw-data-path"))
            raw.write_outputs(config, values, spec.outputs_path)
        except Exception as exc:  # noqa: BLE001 - any failure (a missing output, storage) is the action's error
            message = f"action {spec.action_name} (task {spec.task_name}): {exc}"
            raw.write_error(spec.outputs_path, "OutputError", message)
            return Outcome(OutcomeKind.EXITED, exit_code=1, message=message)
        return Outcome(OutcomeKind.EXITED, exit_code=0)

    # -- on the host (image="local") ---------------------------------------------------------------

    async def _start_host(self, spec: LaunchSpec, on_status: StatusCallback, command: list[str]) -> str:
        stdout, stderr = log_files(spec)
        os.makedirs(os.path.dirname(stdout), exist_ok=True)
        env = {**raw.task_env(os.environ), **raw.task_env(spec.env)}
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *dying_with_us(command), cwd=spec.workdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=err, start_new_session=True)
        handle = f"{_HOST}{proc.pid}:{start_time(proc.pid) or 0}"
        self._hosts[handle] = (proc, asyncio.ensure_future(self._wait_host(handle, proc, spec, on_status)))
        on_status(PluginStatus(phase=Phase.RUNNING))
        return handle

    async def _wait_host(self, handle: str, proc: asyncio.subprocess.Process, spec: LaunchSpec,
                         on_status: StatusCallback) -> None:
        code = await proc.wait()
        aborted = handle in self._aborted
        self._aborted.discard(handle)
        if aborted:
            outcome = Outcome(OutcomeKind.ABORTED, message="the command was stopped")
        elif code == 0:
            outcome = await asyncio.to_thread(self._collect, spec)
        else:
            outcome = exited_outcome({"ExitCode": code}, spec, False)
        self._hosts.pop(handle, None)
        on_status(PluginStatus(outcome=outcome))

    # -- the rest of the interface -----------------------------------------------------------------

    async def abort(self, handle: str, spec: LaunchSpec, reason: str = "") -> None:
        if not handle.startswith(_HOST):
            await self.containers.abort(handle)
            return
        entry = self._hosts.get(handle)
        if entry is None:
            return
        proc, task = entry
        self._aborted.add(handle)
        killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(task), _KILL_GRACE_S)
        except asyncio.TimeoutError:
            killpg(proc.pid, signal.SIGKILL)
            await task

    async def recover(self, spec: LaunchSpec, handle: str, on_status: StatusCallback) -> bool:
        if handle.startswith(_HOST):
            return False  # a host command ends with the backend that started it
        return await self.containers.recover(spec, handle, on_status)

    async def locate(self, spec: LaunchSpec) -> str | None:
        if raw.RawConfig.from_custom(spec.custom, spec.task_name).local or self.engine.probe()[0] is None:
            return None
        return await self.containers.locate(spec)

    async def recovered(self) -> None:
        if self.engine.probe()[0] is not None:
            await self.containers.sweep()

    async def logs(self, spec: LaunchSpec, handle: str | None, follow: bool = False) -> AsyncIterator[LogLine]:
        def running() -> bool:
            return bool(handle) and (handle in self._hosts or self.containers.is_live(handle))

        async for line in follow_log_files(spec, running, follow):
            yield line

    async def close(self) -> None:
        await self.containers.close()
        for proc, task in list(self._hosts.values()):
            killpg(proc.pid, signal.SIGKILL)
            task.cancel()
        self._hosts.clear()

    def describe(self) -> dict[str, Any]:
        version, why = self.engine.probe()
        return {**super().describe(), "engine": version or f"unavailable: {why}",
                "running": self.containers.count() + len(self._hosts)}
