"""A `ContainerTask` in a local run: its command in a container of the local engine, or on the host.

As the backend's raw-container plugin does it (both stage and collect through
`_internal/runtime/raw_container.py`), in a temporary directory of this process: a container
when a Docker or Podman engine answers (``docker run --rm``, the data directories bind-mounted),
the host for ``image="local"``. An image without an engine is refused before anything runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

from flyte_jupyter._internal.runtime import raw_container as raw
from flyte_jupyter.errors import DockerEngineUnavailableError


def _engine_cli() -> str:
    return "docker" if shutil.which("docker") or not shutil.which("podman") else "podman"


def engine_for(task: Any) -> str | None:
    """The engine CLI the task's container runs with (None for ``image="local"``); a clear error
    when the task has an image and no engine answers."""
    if task.raw_config.local:
        return None
    from flyte_jupyter._internal.imagebuild.docker import DockerBuilder

    cli = _engine_cli()
    try:
        DockerBuilder(docker=cli).check_engine()
    except DockerEngineUnavailableError as exc:
        raise DockerEngineUnavailableError(
            f"container task {task.name} runs its image {task.container_image!r} in a container, and no container "
            f"engine answers ({exc}); start Docker or Podman (or set DOCKER_HOST), or declare the task with "
            "image='local' to run its command on this host. Nothing was run.") from None
    return cli


def _image_reference(task: Any, cli: str) -> str:
    image = task.container_image
    if isinstance(image, str):
        return image
    from flyte_jupyter._internal.imagebuild import resolve_image
    from flyte_jupyter._internal.imagebuild.docker import DockerBuilder

    resolved = resolve_image(image, builder=DockerBuilder(docker=cli))
    if resolved is None:
        raise ValueError(f"container task {task.name} has no image to run")
    return resolved.reference


def run_locally(task: Any, inputs: dict[str, Any]) -> Any:
    """Run the task once with ``inputs``; its typed output (blocking)."""
    config: raw.RawConfig = task.raw_config
    cli = engine_for(task)
    with tempfile.TemporaryDirectory(prefix="flyte-container-") as tmp:
        in_dir = raw.fresh_dir(os.path.join(tmp, "inputs"))
        out_dir = raw.fresh_dir(os.path.join(tmp, "outputs"))
        rendered = raw.stage_inputs(config, inputs, in_dir)
        if cli is None:
            argv = raw.render_command(config, rendered, (in_dir, out_dir))
        else:
            argv = [cli, "run", "--rm", "--network", "host",
                    "--mount", f"type=bind,source={in_dir},target={config.input_data_dir}",
                    "--mount", f"type=bind,source={out_dir},target={config.output_data_dir}",
                    *_resource_args(task), "--entrypoint", config.command[0], _image_reference(task, cli),
                    *raw.render_command(config, rendered)[1:]]
        out = None if task.local_logs else subprocess.DEVNULL
        proc = subprocess.run(argv, cwd=tmp, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        err = proc.stderr.decode(errors="replace")
        if task.local_logs and err:
            sys.stderr.write(err)
        if proc.returncode != 0:
            tail = "\n".join(err.strip().splitlines()[-20:])
            raise RuntimeError(f"container task {task.name} exited with code {proc.returncode}"
                               + (f"; last lines of its output:\n{tail}" if tail else ""))
        values = raw.read_outputs(config, out_dir, "")
        return _copy_files_out(raw.output_value(config, values), config, out_dir)


def _resource_args(task: Any) -> list[str]:
    res = task.resources
    if res is None:
        return []
    from flyte_jupyter._internal.wire.quantities import parse_cpu, parse_memory

    args: list[str] = []
    cpu = res.cpu[-1] if isinstance(res.cpu, tuple) else res.cpu
    memory = res.memory[-1] if isinstance(res.memory, tuple) else res.memory
    if cpu:
        args += ["--cpus", f"{parse_cpu(str(cpu)):g}"]
    if memory:
        limit = str(parse_memory(str(memory)))
        args += ["--memory", limit, "--memory-swap", limit]
    return args


def _copy_files_out(value: Any, config: raw.RawConfig, out_dir: str) -> Any:
    """File outputs point into the temporary directory: move them to the raw data path first."""
    if "File" not in config.outputs.values():
        return value
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter.io import File

    def keep(item: Any) -> Any:
        if isinstance(item, File) and str(item.path).startswith(out_dir):
            uri = _storage.new_raw_uri(os.path.basename(str(item.path)))
            _storage.upload_file(str(item.path), uri)
            return File(path=uri)
        return item

    return tuple(keep(v) for v in value) if isinstance(value, tuple) else keep(value)
